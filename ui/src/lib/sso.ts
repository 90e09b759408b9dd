// Single sign-on from the login page: which provider to offer and where the browser goes to start.
// ferry-server runs the OIDC authorization code flow itself (/auth/login → provider → /auth/callback)
// and brings the browser back to return_url with a session cookie, so the page only links there.

import type { Settings } from "../types";

export interface SsoLogin {
  /** The button's text: "Log in via <provider>". */
  label: string;
  href: string;
}

/**
 * The page the browser should land on after the provider: where the user was headed, except the
 * login page itself (nothing to do there once logged in).
 */
export function returnPath(pathname: string, search: string): string {
  if (!pathname.startsWith("/") || pathname.startsWith("//") || pathname === "/login" || pathname === "/") {
    return "/applications";
  }
  return pathname + search;
}

/**
 * What the login page offers: the SSO button when a provider is configured, the local form unless
 * local logins are off (and offered then too when there is no SSO, so the server's answer says why).
 */
export function loginChoices(settings: Settings | null, pathname: string, search: string): { sso: SsoLogin | null; local: boolean } {
  const sso = ssoLogin(settings, pathname, search);
  return { sso, local: !settings?.userLoginsDisabled || sso === null };
}

/** The SSO button, or null when no provider is configured (oidc.config / dex.config unset). */
export function ssoLogin(settings: Settings | null, pathname: string, search: string): SsoLogin | null {
  const oidc = settings?.oidcConfig;
  if (!oidc?.loginURL) return null;
  const connectors = settings?.dexConfig?.connectors ?? [];
  // With one Dex connector its name says more than the issuer's ("Log in via LDAP").
  const name = connectors.length === 1 ? connectors[0].name : oidc.name;
  return {
    label: `Log in via ${name || "SSO"}`,
    href: `${oidc.loginURL}?return_url=${encodeURIComponent(returnPath(pathname, search))}`,
  };
}
