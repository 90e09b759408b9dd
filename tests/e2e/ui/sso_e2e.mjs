// SSO in a real headless Chromium (Debian's, driven by playwright-core from ui/node_modules): the
// browser opens an app's page, gets the web UI's login page, clicks its SSO button (ferry-server's
// /auth/login), logs in on Dex's own login form (Dex's LDAP
// connector), comes back to the page it asked for with a session cookie, calls the API with it,
// and logs out. Run by tests/e2e/test_sso.py, which passes its facts as JSON in FERRY_SSO_E2E;
// prints one line per step and a last "[sso-e2e] result {...}" line; exits non-zero on failure.

import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const config = JSON.parse(process.env.FERRY_SSO_E2E ?? "{}");
const require = createRequire(join(config.uiDir, "package.json"));
const { chromium } = require("playwright-core");
mkdirSync(config.artifacts, { recursive: true });

let step = "start";
const log = (text) => console.log(`[sso-e2e] ${text}`);
function check(condition, message) {
  if (!condition) throw new Error(`${step}: ${message}`);
}

const browser = await chromium.launch({
  executablePath: config.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1200, height: 900 } });
context.setDefaultTimeout(60_000);
const page = await context.newPage();
const shot = (name) => page.screenshot({ path: join(config.artifacts, `${name}.png`), fullPage: true });

/** An API call from the page, with the session cookie and the CSRF header a browser app sends. */
async function api(method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const csrf = document.cookie.split("; ").find((c) => c.startsWith("ferry.csrf="))?.slice(11) ?? "";
      const response = await fetch(path, {
        method,
        headers: { "Content-Type": "application/json", "X-Ferry-CSRF": csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      let json = null;
      try {
        json = await response.json();
      } catch {}
      return { status: response.status, body: json };
    },
    { method, path, body },
  );
}

const result = {};
try {
  step = "the web UI's login page offers SSO";
  await page.goto(`${config.url}${config.returnPath}`);
  const ssoButton = page.getByRole("link", { name: /^Log in via / });
  await ssoButton.waitFor();
  result.ssoButton = (await ssoButton.textContent()).trim();
  result.ssoHref = await ssoButton.getAttribute("href");
  log(`login page: "${result.ssoButton}" -> ${result.ssoHref}`);

  step = "to Dex's login form";
  await ssoButton.click();
  await page.locator("#login").waitFor();
  result.loginPage = page.url();
  check(page.url().startsWith(config.issuer), `expected Dex's page, at ${page.url()}`);
  await shot("sso-01-dex-login");
  log(`at Dex's login form: ${page.url().split("?")[0]}`);

  step = "wrong password";
  await page.locator("#login").fill(config.username);
  await page.locator("#password").fill("not-the-password");
  await page.locator("#submit-login").click();
  await page.locator("#login-error").waitFor();
  result.wrongPassword = (await page.locator("#login-error").innerText()).trim();
  log(`Dex refused the wrong password: ${result.wrongPassword}`);

  step = "log in";
  await page.locator("#login").fill(config.username);
  await page.locator("#password").fill(config.password);
  await page.locator("#submit-login").click();
  await page.waitForURL((url) => url.toString().startsWith(config.url + "/") && !url.pathname.startsWith("/auth/"));
  result.landedAt = page.url();
  log(`back at ${page.url()}`);
  const cookies = await context.cookies(config.url);
  const token = cookies.find((c) => c.name === "ferry.token");
  check(token && token.httpOnly, "no HttpOnly ferry.token cookie");
  result.cookie = { httpOnly: token.httpOnly, sameSite: token.sameSite, secure: token.secure };
  result.stateCookieLeft = cookies.some((c) => c.name === "ferry.oauthstate");
  const listed = await api("GET", "/api/v1/applications");
  result.listed = (listed.body?.items ?? []).map((a) => a.metadata.name);
  log(`listed: ${listed.status} ${result.listed.join(", ")}`);
  // the web UI shows the app list with the SSO session (its API calls carry the cookie)
  await page.getByText(config.allowedApp).first().waitFor();
  await shot("sso-02-after-login");

  step = "who am I";
  result.userinfo = await api("GET", "/api/v1/session/userinfo");
  log(`userinfo: ${JSON.stringify(result.userinfo)}`);

  step = "sync";
  result.syncAllowed = await api("POST", `/api/v1/applications/${config.allowedApp}/sync`, {});
  result.syncDenied = await api("POST", `/api/v1/applications/${config.deniedApp}/sync`, {});
  log(`sync ${config.allowedApp}: ${result.syncAllowed.status}; ${config.deniedApp}: ${result.syncDenied.status}`);

  step = "log out";
  await page.goto(`${config.url}/auth/logout`);
  result.afterLogout = page.url();
  result.userinfoAfterLogout = await api("GET", "/api/v1/session/userinfo");
  log(`after logout: ${result.userinfoAfterLogout.status}`);
  await shot("sso-03-logged-out");
  log(`result ${JSON.stringify(result)}`);
  log("all steps passed");
} catch (err) {
  await shot("sso-failed").catch(() => {});
  console.error(`[sso-e2e] FAILED at ${step}: ${err.stack ?? err}`);
  console.log(`[sso-e2e] result ${JSON.stringify(result)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
