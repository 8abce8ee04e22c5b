// Drives Debian's Chromium through a list of steps for bidui's end-to-end tests, as a person
// would: open a page, fill a field, choose a file, press a button, wait for a text, take a
// screenshot, save a download. The test (Rust) decides the steps and checks what comes back.
//
//   node drive.mjs steps.json
//
// steps.json: { "chromium": "/usr/bin/chromium", "out": "observed.json", "steps": [ … ] },
// each step one of
//   { "goto": url }                        { "fill": [selector, text] }
//   { "click": selector }                  { "upload": [selector, file] }
//   { "wait_text": [text, seconds] }       (reloading the page until it shows the text)
//   { "screenshot": file }                 { "html": name }  (the page's HTML, kept as name)
//   { "download": [selector, file] }       (clicks a link and saves what it downloads)
// observed.json: { "html": { name: html }, "requests": [every URL the browser asked for],
//                  "error": message of the step that failed, if one did }.
import { readFileSync, writeFileSync } from "node:fs";
import { chromium } from "playwright-core";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const observed = { html: {}, requests: [] };
const browser = await chromium.launch({
  executablePath: plan.chromium,
  // As the other browser tests start it: no background traffic from Chromium itself.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 },
                                             locale: "zh-CN", timezoneId: "Asia/Shanghai" });
  context.on("request", (request) => observed.requests.push(request.url()));
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  for (const step of plan.steps) {
    const [kind, arg] = Object.entries(step)[0];
    try {
      if (kind === "goto") {
        await page.goto(arg);
      } else if (kind === "fill") {
        await page.fill(arg[0], arg[1]);
      } else if (kind === "click") {
        await Promise.all([page.waitForLoadState(), page.click(arg)]);
      } else if (kind === "upload") {
        await page.setInputFiles(arg[0], arg[1]);
      } else if (kind === "wait_text") {
        const deadline = Date.now() + arg[1] * 1000;
        while (!(await page.content()).includes(arg[0])) {
          if (Date.now() > deadline) throw new Error(`the page never showed ${arg[0]}`);
          await page.waitForTimeout(500);
          await page.reload();
        }
      } else if (kind === "screenshot") {
        await page.screenshot({ path: arg, fullPage: true });
      } else if (kind === "html") {
        observed.html[arg] = await page.content();
      } else if (kind === "download") {
        const [download] = await Promise.all([page.waitForEvent("download"), page.click(arg[0])]);
        await download.saveAs(arg[1]);
      } else {
        throw new Error(`unknown step ${kind}`);
      }
    } catch (error) {
      observed.error = `step ${JSON.stringify(step)} on ${page.url()}: ${error.message}`;
      observed.html.failed = await page.content().catch(() => "");
      break;
    }
  }
} finally {
  await browser.close();
  writeFileSync(plan.out, JSON.stringify(observed, null, 1));
}
