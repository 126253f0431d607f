// analyze_browser.mjs — the HTML report in a real browser (Debian's Chromium, driven by
// playwright-core): the page loads without console errors or uncaught exceptions, the capacity
// answer is the first thing after the command line, every chart the report lists as drawn is
// an inline SVG, and hovering the throughput-latency chart reads back the data under the
// pointer. Prints one JSON object for the shell test to check; takes a screenshot.
//   node analyze_browser.mjs REPORT.html SCREENSHOT.png X Y [HOVER.png]
// X, Y: a data point of the throughput-latency chart to hover (p90 E2E ms, output tok/s);
// HOVER.png: that chart, with the readout, as the reader sees it.
import { chromium } from "playwright-core";

const [page_path, shot, px, py, hover_shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const out = { errors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on("console", (m) => { if (m.type() === "error") out.errors.push("console: " + m.text()); });
  page.on("pageerror", (e) => out.errors.push("exception: " + e.message));
  page.on("requestfailed", (r) => out.errors.push("request failed: " + r.url()));
  await page.goto("file://" + page_path, { waitUntil: "load", timeout: 30000 });
  out.answer = await page.$eval("p.answer", (p) => p.textContent);
  out.answer_before_inputs = await page.evaluate(() => {
    const a = document.querySelector("p.answer"), h = [...document.querySelectorAll("h2")]
      .find((e) => e.textContent === "Inputs");
    return !!(a && h && (a.compareDocumentPosition(h) & Node.DOCUMENT_POSITION_FOLLOWING));
  });
  out.figures = await page.$$eval("figure", (fs) => fs.map((f) => ({
    id: f.id, svg: !!f.querySelector("svg"), axes: f.hasAttribute("data-axes"),
    w: f.querySelector("svg") ? f.querySelector("svg").getBoundingClientRect().width : 0 })));
  out.not_drawn = await page.$$eval("li[id]", (ls) => ls.map((l) => l.id));
  // hover the given data point: data -> SVG user units -> screen, with the mapping gnuplot
  // printed (the one the page's script inverts)
  await page.evaluate(() => document.getElementById("throughput_latency").scrollIntoView());
  const p2 = await page.evaluate(([X, Y]) => {
    const fig = document.getElementById("throughput_latency");
    const svg = fig.querySelector("svg"), vb = svg.viewBox.baseVal;
    const a = fig.getAttribute("data-axes").split(";")[0].trim().split(/\s+/).map(Number);
    const sx = vb.width * 100 / a[8], sy = vb.height * 100 / a[9];
    const ux = a[4] * sx + (X - a[0]) / (a[1] - a[0]) * (a[5] - a[4]) * sx;
    const uy = vb.height - (a[6] * sy + (Y - a[2]) / (a[3] - a[2]) * (a[7] - a[6]) * sy);
    const p = svg.createSVGPoint(); p.x = ux; p.y = uy;
    const s = p.matrixTransform(svg.getScreenCTM());
    return { x: s.x, y: s.y };
  }, [Number(px), Number(py)]);
  await page.mouse.move(p2.x, p2.y);
  out.tip = await page.$eval("#throughput_latency .tip", (t) =>
    t.style.display === "block" ? t.textContent : "");
  if (hover_shot)
    await page.locator("#throughput_latency").screenshot({ path: hover_shot });
  await page.mouse.move(1, 1);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot, fullPage: false });
} catch (e) {
  out.errors.push("driver: " + e.message);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
