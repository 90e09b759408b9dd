// The web UI in a real headless Chromium (Debian's, driven by playwright-core from ui/node_modules)
// against real ferry processes. Run by tests/e2e/test_ui.py, which prepares the application and
// passes its facts as JSON in FERRY_UI_E2E; prints one line per step, exits non-zero on failure
// (after a screenshot of the page as it failed). Screenshots go to config.artifacts.

import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";

const config = JSON.parse(process.env.FERRY_UI_E2E ?? "{}");
const require = createRequire(join(config.uiDir, "package.json"));
const { chromium } = require("playwright-core");
const axeSource = require("axe-core").source;

const TIMEOUT = 60_000;
const short = (sha) => sha.slice(0, 7);
mkdirSync(config.artifacts, { recursive: true });

let step = "start";
function log(text) {
  console.log(`[ui-e2e] ${text}`);
}
function check(condition, message) {
  if (!condition) throw new Error(`${step}: ${message}`);
}

// Asks the Python side (test_ui.py) to act on the cluster, e.g. make a pod write a log line:
// prints "[ui-e2e] ask WHAT ARG" and waits for its answer on stdin.
const answers = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(what, arg) {
  log(`ask ${what} ${arg}`);
  const { value, done } = await answers.next();
  check(!done && value.trim() === "done", `the test did not do ${what}: ${value}`);
}

const browser = await chromium.launch({
  executablePath: config.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({
  ignoreHTTPSErrors: true, // ferry-server's self-signed certificate
  bypassCSP: true, // axe-core is injected as an inline script; another context keeps the CSP
  viewport: { width: 1400, height: 1000 },
  colorScheme: "light",
  reducedMotion: "reduce",
});
context.setDefaultTimeout(TIMEOUT);
const page = await context.newPage();
const pageErrors = [];
page.on("pageerror", (err) => pageErrors.push(err.message));
const a11y = {};

async function shot(name) {
  const path = join(config.artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
}

/** axe-core on the page as it is: no serious or critical WCAG 2.1 A/AA violation. */
async function accessibility(name, on = page) {
  await on.addScriptTag({ content: axeSource });
  const result = await on.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  a11y[name] = result;
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of result) log(`axe ${name}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(", ")}`);
  check(bad.length === 0, `accessibility violations on ${name}: ${JSON.stringify(bad)}`);
  log(`axe ${name}: no serious or critical violations (${result.length} minor)`);
}

const headStatus = (n) => page.locator(".page-head .status").nth(n);

async function run() {
  step = "login page";
  await page.goto(config.url + "/applications");
  await page.getByRole("heading", { name: "ferry" }).waitFor();
  await accessibility("login");
  await shot("01-login");

  step = "wrong password";
  await page.getByLabel("Username").fill(config.username);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("alert").filter({ hasText: "invalid username or password" }).waitFor();

  step = "log in";
  await page.getByLabel("Password").fill(config.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Applications", level: 1 }).waitFor();
  check((await page.getByTestId("current-user").textContent()) === config.username, "current user shown");
  const cookies = await context.cookies();
  const token = cookies.find((c) => c.name === "ferry.token");
  check(token && token.httpOnly && token.sameSite === "Strict", "HttpOnly SameSite=Strict session cookie");

  step = "applications list";
  const row = page.locator(`tr[data-app="${config.app}"]`);
  await row.waitFor();
  await page.getByRole("status").filter({ hasText: "Live" }).waitFor();
  // Synced, or already OutOfSync if the controller's periodic refresh saw the new commit first
  const listed = await row.locator("[data-status]").nth(0).getAttribute("data-status");
  check(["Synced", "OutOfSync"].includes(listed), `app listed with its sync status, got ${listed}`);
  check((await row.locator("[data-status]").nth(1).getAttribute("data-status")) === "Healthy", "app listed as Healthy");
  check((await row.textContent()).includes(config.namespace), "destination namespace shown");
  const rowText = await row.textContent();
  check(rowText.includes(short(config.v1)) || rowText.includes(short(config.v2)), "compared revision shown");
  await accessibility("applications");
  await shot("02-applications");

  step = "filters";
  await page.getByRole("checkbox", { name: /Degraded/ }).check();
  await row.waitFor({ state: "detached" });
  check(page.url().includes("health=Degraded"), "filter kept in the URL");
  await page.getByRole("button", { name: "Clear filters" }).click();
  await row.waitFor();
  await page.getByRole("group", { name: "Cluster" }).getByRole("checkbox", { name: /in-cluster/ }).check();
  check(page.url().includes("cluster=in-cluster"), "cluster filter kept in the URL");
  await row.waitFor();
  check(/ago|just now|s$/.test(await row.locator("td").last().textContent()), `last sync shown: ${await row.locator("td").last().textContent()}`);
  await page.getByRole("button", { name: "Clear filters" }).click();
  await page.getByRole("searchbox", { name: "Search" }).fill("no-such-application-anywhere");
  await row.waitFor({ state: "detached" });
  await page.getByRole("searchbox", { name: "Search" }).fill(config.app);
  await row.waitFor();
  check((await page.locator("tr[data-app]").count()) === 1, "search leaves one app");
  // a filtered list opened from its URL: the project goes to the real server's List and Watch
  await page.goto(`${config.url}/applications?project=default&search=${config.app}`);
  await row.waitFor();
  check((await page.getByRole("checkbox", { name: /^default/ }).isChecked()), "project filter read from the URL");
  await page.goto(`${config.url}/applications?project=no-such-project`);
  await page.getByRole("heading", { name: "Applications", level: 1 }).waitFor();
  await row.waitFor({ state: "detached" });
  await page.goto(`${config.url}/applications`);

  step = "application page and tree";
  await page.getByRole("link", { name: config.app, exact: true }).click();
  await page.getByRole("heading", { name: config.app, level: 1 }).waitFor();

  step = "the resource graph: Application -> resources -> children, with edges; keyboard moves along them";
  const graph = page.getByRole("group", { name: `Resource graph of ${config.app}` });
  await graph.waitFor();
  await graph.locator("button[data-resource^='/Pod/']").first().waitFor(); // Deployment > ReplicaSet > Pod
  const graphNodes = await graph.locator("button[data-graph-node]").count();
  const edges = await graph.locator("path[data-edge]").count();
  check(graphNodes >= 5 && edges === graphNodes - 1, `a tree of ${graphNodes} nodes has ${edges} edges`);
  const appNode = graph.getByRole("button", { name: new RegExp(`^Application ${config.app}`) });
  const deploymentNode = graph.locator("button[data-resource='apps/Deployment/" + config.namespace + "/ui-web']");
  const deploymentEdge = await graph.locator(`path[data-edge="__application__ > apps/Deployment/${config.namespace}/ui-web"]`).count();
  check(deploymentEdge === 1, "an edge from the Application to the Deployment");
  check((await deploymentNode.textContent()).includes("Healthy"), "health on the node");
  await appNode.focus();
  const focused = (node) => page.waitForFunction((key) => document.activeElement?.dataset?.graphNode === key, node, { timeout: 5000 });
  await page.keyboard.press("ArrowRight");
  await focused(`/ConfigMap/${config.namespace}/ui-config`);
  await page.keyboard.press("ArrowDown");
  await focused(`apps/Deployment/${config.namespace}/ui-web`);
  await page.keyboard.press("ArrowRight");
  await page.waitForFunction(() => document.activeElement?.dataset?.graphNode?.startsWith("apps/ReplicaSet/"), null, { timeout: 5000 });
  await page.keyboard.press("ArrowRight");
  await page.waitForFunction(() => document.activeElement?.dataset?.graphNode?.startsWith("/Pod/"), null, { timeout: 5000 });
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: /^Pod /, level: 3 }).waitFor();
  check((await page.locator("button.graph-node.selected").getAttribute("data-resource")).includes("/Pod/"), "the Pod selected from the graph");
  await accessibility("application-graph");
  await shot("02-graph");
  await page.getByRole("button", { name: "List", exact: true }).click();
  const tree = page.getByRole("tree", { name: `Resources of ${config.app}` });
  await tree.waitFor();
  await tree.locator('[role=treeitem][aria-level="3"]').first().waitFor(); // Deployment > ReplicaSet > Pod
  const items = await tree.getByRole("treeitem").allTextContents();
  check(items.some((t) => t.includes("ConfigMap") && t.includes("ui-config")), `ConfigMap in the tree: ${items}`);
  check(items.some((t) => t.includes("apps/ReplicaSet")), `ReplicaSet in the tree: ${items}`);
  check(items.some((t) => t.includes("Pod")), `Pod in the tree: ${items}`);

  step = "pod logs: select the Pod, read its logs, see a new line arrive";
  const podItem = tree.locator('[role=treeitem][aria-level="3"]').first();
  const podName = (await podItem.getAttribute("data-resource")).split("/").pop();
  await podItem.click();
  await page.getByRole("heading", { name: new RegExp(`^Pod .*${podName}$`), level: 3 }).waitFor();
  check((await page.getByRole("button", { name: "Logs", exact: true }).getAttribute("aria-pressed")) === "true", "a Pod opens on its logs");
  const logs = page.getByRole("log", { name: `Logs of Pod ${podName}` });
  await logs.filter({ hasText: "listening on :8080" }).waitFor();
  check((await logs.textContent()).startsWith("ui-web starting"), `the pod's log from the start: ${await logs.textContent()}`);
  await page.locator('[data-testid="logs-status"][data-state="following"]').waitFor();
  check((await page.getByLabel("Container").inputValue()) === "c", "the pod's container chosen");
  await ask("append-log", "GET /healthz 200");
  await logs.filter({ hasText: "GET /healthz 200" }).waitFor();
  log("the pod's logs are streamed; an appended line arrived while following");
  await page.getByLabel("Lines").selectOption("100");
  await page.getByLabel("Timestamps").check();
  await logs.filter({ hasText: /\d{4}-\d\d-\d\dT[\d:.]+Z? GET \/healthz 200/ }).waitFor();
  await page.getByLabel("Follow").uncheck();
  await page.locator('[data-testid="logs-status"][data-state="done"]').waitFor();
  check((await logs.textContent()).includes("GET /healthz 200"), "not followed: the whole log, then the end");
  await accessibility("application-logs");
  await shot("03-pod-logs");

  step = "events of the Pod";
  await page.getByRole("button", { name: "Events", exact: true }).click();
  const podEvents = page.locator(".details [data-testid=events]");
  await podEvents.locator("tr", { hasText: "Scheduled" }).waitFor();
  check((await podEvents.textContent()).includes("default-scheduler"), "who reported it");

  step = "the Deployment's logs: every pod, named";
  const deploymentItem = tree.locator('[role=treeitem][aria-level="1"]', { hasText: "apps/Deployment" });
  await deploymentItem.click();
  await page.getByRole("heading", { name: /apps\/Deployment .*ui-web$/, level: 3 }).waitFor();
  await page.getByRole("button", { name: "Logs", exact: true }).click();
  await page.getByRole("log", { name: "Logs of apps/Deployment ui-web" }).filter({ hasText: `${podName} GET /healthz 200` }).waitFor();
  await page.getByRole("region", { name: "Events", exact: true }).getByText(/No events|Reason/).first().waitFor();

  step = "refresh sees the Git change";
  await page.getByRole("button", { name: "Refresh", exact: true }).click();
  await page.getByText("Refresh requested").waitFor();
  await page.locator('.page-head .status[data-status="OutOfSync"]').waitFor();
  log(`the application is OutOfSync after the Git change (${await headStatus(1).getAttribute("data-status")})`);

  step = "keyboard: select the ConfigMap in the tree";
  const first = tree.getByRole("treeitem").first();
  await first.focus();
  await page.keyboard.press("Home");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: /ConfigMap .*ui-config/, level: 3 }).waitFor();
  check(page.url().includes("resource="), "selected resource kept in the URL");

  step = "the compared commit: its message and author";
  await page.getByTestId("commit").filter({ hasText: "v2" }).waitFor();

  step = "diff of the Git change";
  const diff = page.getByTestId("diff");
  await diff.waitFor();
  await diff.locator("tr.diff-del", { hasText: "version: v1" }).waitFor();
  await diff.locator("tr.diff-add", { hasText: "version: v2" }).waitFor();
  await accessibility("application");
  await shot("03-diff");
  await page.getByRole("button", { name: "Live manifest" }).click();
  const live = page.getByTestId("live-manifest");
  await live.waitFor();
  check((await live.textContent()).includes("version: v1"), "live manifest still has v1");
  check((await live.textContent()).includes("uid:"), "the live object (with uid)");

  step = "sync dialog: Escape closes it and focus comes back";
  const syncButton = page.getByRole("button", { name: "Sync", exact: true });
  await syncButton.click();
  const syncDialog = page.getByRole("dialog", { name: `Sync ${config.app}` });
  await syncDialog.waitFor();
  await page.keyboard.press("Escape");
  await syncDialog.waitFor({ state: "detached" });
  check(await syncButton.evaluate((el) => el === document.activeElement), "focus back on Sync");

  step = "sync dialog: a dry run of the ConfigMap alone, with a sync option";
  await syncButton.click();
  await syncDialog.getByRole("button", { name: "None", exact: true }).click();
  check(await syncDialog.getByRole("button", { name: "Synchronize" }).isDisabled(), "nothing selected, nothing to sync");
  await syncDialog.getByRole("checkbox", { name: /ConfigMap .*ui-config/ }).check();
  await syncDialog.getByRole("checkbox", { name: /^Dry run/ }).check();
  await syncDialog.getByRole("checkbox", { name: /PruneLast=true/ }).check();
  check((await syncDialog.locator("legend", { hasText: "Resources" }).textContent()).includes("1 of 2 selected"), "one of two resources");
  await accessibility("sync-dialog");
  await shot("04-sync-dialog");
  await syncDialog.getByRole("button", { name: "Synchronize" }).click();
  await syncDialog.waitFor({ state: "detached" });
  const operation = page.locator(".operation");
  await operation.getByTestId("operation-asked").filter({ hasText: "dry run, 1 selected resource, PruneLast=true" }).waitFor();
  await page.locator('.operation[data-phase="Succeeded"]').getByTestId("operation-asked").filter({ hasText: "dry run" }).waitFor({ timeout: 120_000 });
  const dryRows = operation.locator("tr[data-result]");
  check((await dryRows.count()) === 1, `one result: ${await dryRows.allTextContents()}`);
  check((await dryRows.first().textContent()).includes("ui-config"), "the ConfigMap's result");
  check((await dryRows.first().textContent()).includes("(dry run)"), "a dry-run result");
  check((await headStatus(0).getAttribute("data-status")) === "OutOfSync", "a dry run changes nothing");
  log("dry run of one selected resource with PruneLast: one (dry run) result, still OutOfSync");

  step = "sync to a chosen revision with prune; progress shown live";
  await page.evaluate(() => {
    // every phase the operation section showed, from the attribute changes themselves
    window.__phases = [document.querySelector(".operation")?.dataset.phase];
    window.__pending = false;
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === "attributes" && r.attributeName === "data-phase" && r.target.matches(".operation")) {
          window.__phases.push(r.oldValue, r.target.dataset.phase);
        }
        if (r.type === "attributes" && r.attributeName === "data-result" && r.target.dataset.result === "Pending") window.__pending = true;
        for (const n of r.addedNodes ?? []) if (n.nodeType === 1 && n.matches('tr[data-result="Pending"], .operation:has(tr[data-result="Pending"])')) window.__pending = true;
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeOldValue: true, attributeFilter: ["data-phase", "data-result"] });
  });
  await syncButton.click();
  await syncDialog.getByLabel("Revision").fill(config.v2);
  await syncDialog.getByRole("checkbox", { name: /^Prune:/ }).check();
  await syncDialog.getByRole("button", { name: "Synchronize" }).click();
  await syncDialog.waitFor({ state: "detached" });
  // the dry run before also went "to" v2: this one is "with prune"
  await page.locator(".operation", { hasText: `with prune to ${short(config.v2)}` }).locator('[data-status="Succeeded"]').waitFor({ timeout: 120_000 });
  const phases = await page.evaluate(() => window.__phases.filter((p, i, all) => p && p !== all[i - 1]));
  const pendingSeen = await page.evaluate(() => window.__pending);
  log(`operation phases seen live: ${phases.join(" -> ")}; pending rows seen: ${pendingSeen}`);
  check(phases.includes("Running") && phases.at(-1) === "Succeeded", `Running then Succeeded seen without a reload: ${phases}`);
  check((await operation.locator("tr[data-result]").count()) === 2, "both resources synced");
  await page.locator('.page-head .status[data-status="Synced"]').waitFor();
  await page.getByTestId("live-manifest").filter({ hasText: "version: v2" }).waitFor(); // reloaded by itself
  await page.getByRole("button", { name: "Diff", exact: true }).click();
  await page.getByTestId("diff-none").waitFor();
  log("synced to v2; the status went OutOfSync -> Synced without a reload");
  await shot("05-synced");

  step = "history and rollback";
  await page.getByRole("button", { name: "History and rollback" }).click();
  const history = page.getByRole("dialog", { name: `History of ${config.app}` });
  await history.waitFor();
  await history.locator('tr[data-history-id="1"]').waitFor();
  check((await history.locator("tr[data-history-id]").count()) === 2, "two deployments");
  await history.getByRole("button", { name: "Rollback to deployment 0" }).click();
  await shot("06-history");
  await history.getByRole("button", { name: "Confirm rollback to 0" }).click();
  await history.waitFor({ state: "detached" });
  await page.locator(".operation", { hasText: `to ${short(config.v1)}` }).locator('[data-status="Succeeded"]').waitFor({ timeout: 120_000 });
  await page.locator('.page-head .status[data-status="OutOfSync"]').waitFor();
  log("rolled back to v1: live differs from Git (HEAD) again");
  await shot("07-rolled-back");

  step = "settings: add a repository";
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByRole("heading", { name: "Repositories" }).waitFor();
  await page.getByRole("heading", { name: "Clusters" }).waitFor();
  await page.locator("table", { hasText: "https://kubernetes.default.svc" }).waitFor();
  await page.getByRole("button", { name: "Add repository" }).click();
  const form = page.getByRole("form", { name: "Add repository" });
  await form.getByLabel("Repository URL").fill("file:///nonexistent/ferry-ui-e2e.git");
  await form.getByRole("button", { name: "Connect and add" }).click();
  await form.getByRole("alert").waitFor();
  log(`a bad repository is refused: ${await form.getByRole("alert").textContent()}`);
  await form.getByLabel("Repository URL").fill(config.newRepo);
  await form.getByLabel("Name (optional)", { exact: true }).fill("ui-added");
  await form.getByRole("button", { name: "Connect and add" }).click();
  const repoRow = page.locator(`tr[data-repo="${config.newRepo}"]`);
  await repoRow.waitFor();
  log("repository added");

  step = "settings: add a cluster and a project";
  await page.getByRole("button", { name: "Add cluster" }).click();
  const clusterForm = page.getByRole("form", { name: "Add cluster" });
  await clusterForm.getByLabel("Server URL").fill(config.fakeCluster);
  await clusterForm.getByLabel("Name (optional)").fill("ui-unreachable");
  await clusterForm.getByLabel("Bearer token").fill("not-a-real-token");
  await clusterForm.getByRole("button", { name: "Add cluster" }).click();
  const clusterRow = page.locator(`tr[data-cluster="${config.fakeCluster}"]`);
  await clusterRow.waitFor();
  log(`cluster added; its connection: ${await clusterRow.locator(".status-word").textContent().catch(() => "none")}`);
  await page.getByRole("button", { name: "Add project" }).click();
  const projectForm = page.getByRole("form", { name: "Add project" });
  await projectForm.getByLabel("Project name").fill(config.project);
  await projectForm.getByLabel(/Description/).fill("made by the browser");
  await projectForm.getByLabel(/Destinations/).fill(`https://kubernetes.default.svc ui-*`);
  await projectForm.getByRole("button", { name: "Add project" }).click();
  const projectRow = page.locator(`tr[data-project="${config.project}"]`);
  await projectRow.waitFor();
  check((await projectRow.textContent()).includes("ui-*"), "the project's destination");
  await accessibility("settings");
  await shot("08-settings");

  step = "settings: remove the project, the cluster and the repository";
  for (const [what, name, row] of [
    ["project", config.project, projectRow],
    ["cluster", config.fakeCluster, clusterRow],
    ["repository", config.newRepo, repoRow],
  ]) {
    await page.getByRole("button", { name: `Remove ${what} ${name}` }).click();
    const confirmRemove = page.getByRole("dialog", { name: `Remove ${what}` });
    await confirmRemove.getByRole("button", { name: "Remove" }).click();
    await confirmRemove.waitFor({ state: "detached" });
    await row.waitFor({ state: "detached" });
  }
  log("added and removed a repository, a cluster and a project");

  step = "dark theme";
  await page.getByLabel("Theme").selectOption("dark");
  check((await page.evaluate(() => document.documentElement.dataset.theme)) === "dark", "data-theme=dark");
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(background === "rgb(13, 17, 23)", `dark background, got ${background}`);
  await page.reload();
  await page.getByRole("heading", { name: "Settings" }).waitFor();
  check((await page.evaluate(() => document.documentElement.dataset.theme)) === "dark", "dark survives a reload");
  await accessibility("settings-dark");
  await shot("09-settings-dark");
  await page.goto(`${config.url}/applications/${config.app}`);
  await page.getByRole("tree").waitFor();
  await accessibility("application-dark");
  await shot("10-application-dark");
  await page.getByRole("button", { name: "Graph", exact: true }).click();
  await page.getByTestId("resource-graph").waitFor();
  await accessibility("application-graph-dark");
  await shot("10-application-graph-dark");

  step = "a laptop screen (1280×720): no page scrolls sideways, the actions stay in view";
  await page.setViewportSize({ width: 1280, height: 720 });
  for (const [path, ready, action] of [
    ["/applications", page.locator(`tr[data-app="${config.app}"]`), page.getByRole("searchbox", { name: "Search" })],
    [`/applications/${config.app}`, page.getByTestId("resource-graph"), page.getByRole("button", { name: "Sync", exact: true })],
    ["/settings", page.getByRole("heading", { name: "Projects" }), page.getByRole("button", { name: "Add project" })],
  ]) {
    await page.goto(config.url + path);
    await ready.waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `${path} scrolls sideways by ${overflow}px`);
    const box = await action.boundingBox();
    check(box && box.x >= 0 && box.x + box.width <= 1280, `${path}: the action is off screen (${JSON.stringify(box)})`);
  }
  await shot("11-laptop-settings");
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto(`${config.url}/applications/${config.app}`);
  await page.getByRole("button", { name: "Sync", exact: true }).waitFor();
  log("1280×720: list, application and settings fit the width");

  step = "system theme is followed when nothing is chosen (and the app runs under its CSP)";
  const darkSystem = await browser.newContext({ ignoreHTTPSErrors: true, colorScheme: "dark" });
  const other = await darkSystem.newPage();
  const otherErrors = [];
  other.on("pageerror", (err) => otherErrors.push(err.message));
  other.on("console", (m) => m.type() === "error" && /Content Security Policy/.test(m.text()) && otherErrors.push(m.text()));
  const response = await other.goto(config.url + "/login");
  check((response.headers()["content-security-policy"] ?? "").includes("default-src 'self'"), "CSP header on the UI");
  await other.getByRole("button", { name: "Log in" }).waitFor();
  check((await other.evaluate(() => document.documentElement.dataset.theme)) === "dark", "system dark followed");
  await other.getByLabel("Username").fill(config.username);
  await other.getByLabel("Password").fill(config.password);
  await other.getByRole("button", { name: "Log in" }).click();
  await other.getByRole("heading", { name: "Applications", level: 1 }).waitFor();
  await other.getByRole("status").filter({ hasText: "Live" }).waitFor();
  check(otherErrors.length === 0, `no errors under the CSP: ${otherErrors.join("; ")}`);
  await darkSystem.close();

  step = "2,500 applications: pages from the server, a windowed table, filters sent to the server";
  await manyApplications();

  step = "new application: the form's checks, the server's refusal, then an automated app";
  await page.goto(`${config.url}/applications`);
  await page.getByRole("button", { name: "New application" }).click();
  const create = page.getByRole("dialog", { name: "New application" });
  await create.getByRole("button", { name: "Create" }).click();
  await create.getByText("A name is required.").waitFor();
  await create.getByText("A repository URL is required.").waitFor();
  check((await create.getByLabel("Application name").getAttribute("aria-invalid")) === "true", "the name marked invalid");
  await accessibility("new-application");
  await shot("12-new-application");
  await create.getByLabel("Application name").fill(config.createdApp);
  await create.getByLabel("Repository URL").fill(config.newRepo);
  await create.getByLabel(/^Path/).fill("no-such-dir");
  await create.getByLabel("Namespace", { exact: true }).fill(config.namespace);
  await create.getByLabel(/^Automated sync/).check();
  await create.getByLabel(/^Self-heal/).check();
  await create.getByRole("button", { name: "Create" }).click();
  const refusal = create.getByRole("alert");
  await refusal.waitFor();
  log(`the server refused a missing path: ${(await refusal.textContent()).trim()}`);
  check(/no-such-dir/.test(await refusal.textContent()), "the refusal names the path");
  await create.getByLabel(/^Path/).fill("extra");
  await create.getByRole("button", { name: "Create" }).click();
  await page.waitForURL(`${config.url}/applications/${config.createdApp}`);
  await page.locator('.page-head .status[data-status="Synced"]').first().waitFor({ timeout: 120_000 });
  await accessibility("new-application-created");
  log("created an automated application from the browser; it synced");
  await page.goto(`${config.url}/applications/${config.app}`);
  await page.getByRole("button", { name: "Sync", exact: true }).waitFor();

  step = "delete, keeping the resources";
  await page.getByLabel("Theme").selectOption("system");
  await page.getByRole("button", { name: "Delete" }).click();
  const del = page.getByRole("dialog", { name: `Delete ${config.app}` });
  await del.getByLabel(/Keep them/).check();
  const confirmDelete = del.getByRole("button", { name: "Delete" });
  check(await confirmDelete.isDisabled(), "delete needs the name typed");
  await del.getByLabel(/to confirm/).fill(config.app);
  await confirmDelete.click();
  await page.getByRole("heading", { name: "Applications", level: 1 }).waitFor();
  await page.locator(`tr[data-app="${config.app}"]`).waitFor({ state: "detached", timeout: 120_000 });
  log("deleted; the list dropped it from the watch stream");

  step = "log out";
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("button", { name: "Log in" }).waitFor();
  await page.reload();
  await page.getByRole("button", { name: "Log in" }).waitFor();
  const after = await page.evaluate(async () => (await fetch("/api/v1/session/userinfo")).status);
  check(after === 401, `logged out: userinfo answers ${after}`);

  check(pageErrors.length === 0, `no script errors: ${pageErrors.join("; ")}`);
}


/**
 * The applications list with 2,500 apps, served by routes in a separate browser context (the API
 * itself is covered by the steps above; this is about the page): the list arrives in pages of
 * 500, the table renders only the rows in view, keyboard scrolling reaches the last app, and
 * the project and label filters are sent to the server.
 */
async function manyApplications() {
  const COUNT = 2500;
  const statuses = ["Synced", "OutOfSync"];
  const healths = ["Healthy", "Progressing", "Degraded"];
  const apps = Array.from({ length: COUNT }, (_, i) => ({
    metadata: { name: `app-${String(i).padStart(4, "0")}`, resourceVersion: "100", labels: { tier: i % 4 === 0 ? "web" : "db" } },
    spec: {
      project: i % 2 ? "team-b" : "default",
      source: { repoURL: `https://git.example.com/team/repo-${i % 17}.git`, path: `apps/${i}`, targetRevision: "HEAD" },
      destination: { server: "https://kubernetes.default.svc", namespace: `ns-${i % 40}` },
    },
    status: { sync: { status: statuses[i % 2], revision: "0123456789abcdef" }, health: { status: healths[i % 3] } },
  }));
  const requests = [];
  const many = await browser.newContext({ ignoreHTTPSErrors: true, bypassCSP: true, viewport: { width: 1400, height: 900 }, reducedMotion: "reduce" });
  const other = await many.newPage();
  const errors = [];
  other.on("pageerror", (err) => errors.push(err.message));
  const json = (route, body) => route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(body) });
  await other.route("**/api/**", async (route) => {
    const url = new URL(route.request().url());
    requests.push(url.pathname + url.search);
    if (url.pathname === "/api/v1/session/userinfo") return json(route, { loggedIn: true, username: "many" });
    if (url.pathname === "/api/v1/projects") return json(route, { items: [{ metadata: { name: "default" } }, { metadata: { name: "team-b" } }] });
    if (url.pathname === "/api/v1/stream/applications") return route.fulfill({ status: 200, contentType: "application/x-ndjson", body: "" });
    if (url.pathname !== "/api/v1/applications") return json(route, {});
    const projects = url.searchParams.getAll("projects");
    const selector = url.searchParams.get("selector") ?? "";
    const [key, value] = selector.split("=");
    const matching = apps.filter(
      (a) => (!projects.length || projects.includes(a.spec.project)) && (!selector || a.metadata.labels[key] === value),
    );
    const limit = Number(url.searchParams.get("limit") || 500);
    const start = Number(url.searchParams.get("continue") || 0);
    const page = matching.slice(start, start + limit);
    const rest = matching.length - start - page.length;
    return json(route, {
      metadata: { resourceVersion: "100", ...(rest > 0 ? { continue: String(start + limit), remainingItemCount: rest } : {}) },
      items: page,
    });
  });
  const started = Date.now();
  await other.goto(config.url + "/applications");
  const count = other.locator("#apps-count");
  await count.filter({ hasText: `${COUNT} of ${COUNT} applications` }).waitFor();
  const took = Date.now() - started;
  const rendered = await other.locator("tr[data-app]").count();
  log(`${COUNT} apps listed in ${took} ms; ${rendered} rows in the DOM`);
  check(rendered > 10 && rendered < 80, `only the rows in view are rendered, got ${rendered}`);
  const pages = requests.filter((r) => r.startsWith("/api/v1/applications?") && r.includes("limit=500"));
  check(pages.length === COUNT / 500, `listed in pages of 500: ${pages.join(" ")}`);
  check(requests.some((r) => r.startsWith("/api/v1/stream/applications?resourceVersion=100")), `the watch resumes from the list's resourceVersion: ${requests.join(" ")}`);
  check((await other.locator("table.apps-table").getAttribute("aria-rowcount")) === String(COUNT + 1), "aria-rowcount is the whole table");
  await accessibility("applications-many", other);
  await other.screenshot({ path: join(config.artifacts, "11-applications-many.png") });

  // the keyboard reaches the last app: focus the table's scroll area, End
  const region = other.getByRole("region", { name: /Applications table/ });
  await region.focus();
  await other.keyboard.press("End");
  await other.locator('tr[data-app="app-2499"]').waitFor();
  check((await other.locator('tr[data-app="app-2499"]').getAttribute("aria-rowindex")) === String(COUNT + 1), "the last row's index");
  check((await other.locator("tr[data-app]").count()) < 80, "still windowed at the end");
  await other.keyboard.press("Home");
  await other.locator('tr[data-app="app-0000"]').waitFor();

  // client-side search over the 2,500
  await other.getByRole("searchbox", { name: "Search" }).fill("app-1234");
  await count.filter({ hasText: `1 of ${COUNT} applications` }).waitFor();
  await other.getByRole("button", { name: "Clear filters" }).click();
  await count.filter({ hasText: `${COUNT} of ${COUNT}` }).waitFor();

  // project and labels: the server filters
  requests.length = 0;
  await other.getByRole("checkbox", { name: /team-b/ }).check();
  await count.filter({ hasText: `${COUNT / 2} of ${COUNT / 2} applications` }).waitFor();
  check(requests.some((r) => r.includes("/api/v1/applications?projects=team-b")), `project sent to the List: ${requests.join(" ")}`);
  check(requests.some((r) => r.includes("/api/v1/stream/applications?projects=team-b")), "and to the Watch");
  await other.getByRole("checkbox", { name: /team-b/ }).uncheck();
  await other.getByLabel("Labels").fill("tier=web");
  await other.getByLabel("Labels").press("Enter");
  await count.filter({ hasText: `${COUNT / 4} of ${COUNT / 4} applications` }).waitFor();
  check(other.url().includes("labels=tier%3Dweb"), "the label filter is in the URL");
  check(requests.some((r) => r.includes("selector=tier%3Dweb")), "the selector sent to the server");
  check(errors.length === 0, `no script errors: ${errors.join("; ")}`);
  await many.close();
}

let failed = false;
try {
  await run();
  log("all steps passed");
} catch (err) {
  failed = true;
  console.error(`[ui-e2e] FAILED at "${step}": ${err?.stack ?? err}`);
  try {
    await shot("failure");
    writeFileSync(join(config.artifacts, "failure.html"), await page.content());
  } catch {
    // the page may be gone
  }
} finally {
  writeFileSync(join(config.artifacts, "accessibility.json"), JSON.stringify(a11y, null, 2));
  await browser.close();
}
process.exit(failed ? 1 : 0);
