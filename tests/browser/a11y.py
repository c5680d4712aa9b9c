"""Accessibility checks run in the browser (WCAG 2.1 AA): alt text, labels, heading order, contrast.

``A11Y`` and ``CONTRAST`` are JavaScript functions for ``page.evaluate``; each returns what fails.
"""

# accessibility: what a screen reader or a reader with low vision needs (WCAG 2.1 AA)
A11Y = """() => {
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const noAlt = [...document.images].filter(i => !(i.getAttribute('alt') || '').trim()).map(i => i.src.slice(0, 80));
  // controls a reader can reach: every widget's, and the theme's that are rendered and not aria-hidden
  const reachable = (el) => el.closest('.llmbook-widget') || (visible(el) && !el.closest('[aria-hidden=true]'));
  const controls = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter(reachable);
  const named = (el) => (el.labels && [...el.labels].some(l => l.textContent.trim()))
    || (el.getAttribute('aria-label') || '').trim()
    || (el.getAttribute('aria-labelledby') || '').split(/\\s+/).some(id => id && document.getElementById(id)
         && document.getElementById(id).textContent.trim());
  const unlabelled = controls.filter(el => !named(el)).map(el => el.outerHTML.slice(0, 100));
  const buttons = [...document.querySelectorAll('button')].filter(reachable)
    .filter(b => !(b.textContent.trim() || (b.getAttribute('aria-label') || '').trim() || (b.title || '').trim()))
    .map(b => b.outerHTML.slice(0, 100));
  const heads = [...document.querySelectorAll('.md-content article :is(h1, h2, h3, h4, h5, h6)')];
  const skips = [];
  heads.forEach((h, i) => {
    const level = +h.tagName[1], prev = i ? +heads[i - 1].tagName[1] : 0;
    if (level > prev + 1) skips.push(`${i ? heads[i - 1].tagName : 'start'} -> ${h.tagName} "${h.textContent.trim().slice(0, 40)}"`);
  });
  return {noAlt, unlabelled: unlabelled.concat(buttons), skips};
}"""

# WCAG AA: 4.5:1 between each widget text and what is behind it (alpha and opacity composited).
# Measured once the colour transitions a scheme switch starts have ended (the theme fades code's colours
# over ~125 ms): mid-fade colours are neither scheme's.
CONTRAST = """async () => {
  await Promise.all(document.getAnimations().filter(a => a instanceof CSSTransition).map(a => a.finished.catch(() => null)));
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = layers.length && layers[layers.length - 1][3] >= 1 ? layers.pop() : [255, 255, 255, 1];
    while (layers.length) bg = over(layers.pop(), bg);
    return bg;
  };
  const opacity = (el) => { let o = 1; for (let e = el; e; e = e.parentElement) o *= +getComputedStyle(e).opacity; return o; };
  const low = [];
  for (const el of document.querySelectorAll('.llmbook-widget, .llmbook-widget *')) {
    const hasText = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!hasText || el.getClientRects().length === 0 || getComputedStyle(el).visibility === 'hidden') continue;
    const bg = background(el), fg = parse(getComputedStyle(el).color);
    const text = over([fg[0], fg[1], fg[2], fg[3] * opacity(el)], bg);
    const r = ratio(text, bg);
    if (r < 4.5) low.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 20)}": ${r.toFixed(2)}`);
  }
  return [...new Set(low)];
}"""
