import { describe, expect, it } from "vitest";

import { loginChoices, returnPath, ssoLogin } from "./sso";

describe("returnPath", () => {
  it("keeps where the user was headed, with its query", () => {
    expect(returnPath("/applications/web", "?tab=diff")).toBe("/applications/web?tab=diff");
  });
  it("sends the login page and the root to the applications list", () => {
    expect(returnPath("/login", "")).toBe("/applications");
    expect(returnPath("/", "")).toBe("/applications");
  });
  it("never yields a path another origin could hide behind", () => {
    expect(returnPath("//evil.example/x", "")).toBe("/applications");
  });
});

describe("ssoLogin", () => {
  const oidc = { name: "Okta", issuer: "https://okta.example", loginURL: "/auth/login" };

  it("is absent without an SSO provider", () => {
    expect(ssoLogin(null, "/login", "")).toBeNull();
    expect(ssoLogin({}, "/login", "")).toBeNull();
    expect(ssoLogin({ oidcConfig: { name: "Okta" } }, "/login", "")).toBeNull();
  });
  it("names the provider and returns to the page asked for", () => {
    expect(ssoLogin({ oidcConfig: oidc }, "/applications/a b", "")).toEqual({
      label: "Log in via Okta",
      href: "/auth/login?return_url=%2Fapplications%2Fa%20b",
    });
  });
  it("names a bundled Dex's only connector", () => {
    const settings = { oidcConfig: { ...oidc, name: "Dex" }, dexConfig: { connectors: [{ name: "LDAP", type: "ldap" }] } };
    expect(ssoLogin(settings, "/login", "")?.label).toBe("Log in via LDAP");
    const two = { ...settings, dexConfig: { connectors: [{ name: "LDAP" }, { name: "GitHub" }] } };
    expect(ssoLogin(two, "/login", "")?.label).toBe("Log in via Dex");
  });
});

describe("loginChoices", () => {
  const oidc = { oidcConfig: { name: "Okta", loginURL: "/auth/login" } };

  it("offers the local form alone without SSO, and beside SSO when local logins are on", () => {
    expect(loginChoices(null, "/login", "")).toEqual({ sso: null, local: true });
    expect(loginChoices(oidc, "/login", "").local).toBe(true);
  });
  it("offers only SSO when local logins are off", () => {
    const choices = loginChoices({ ...oidc, userLoginsDisabled: true }, "/login", "");
    expect(choices.local).toBe(false);
    expect(choices.sso?.label).toBe("Log in via Okta");
  });
  it("keeps the form when local logins are off but no SSO is configured", () => {
    expect(loginChoices({ userLoginsDisabled: true }, "/login", "").local).toBe(true);
  });
});
