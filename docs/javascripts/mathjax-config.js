/* MathJax 3 configuration, served from the site itself (assets/mathjax/).
 * startup.typeset is off and every page is typeset once MathJax has finished
 * starting: typesetting earlier races the loading of TeX extensions such as
 * \cancel, which then show as raw red text. */
window.MathJax = {
  tex: {
    // pymdownx.arithmatex (generic) wraps every formula, notebook pages' too, in \(..\) or \[..\]
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".+",
    processHtmlClass: "arithmatex",
  },
  startup: { typeset: false },
};

(function () {
  function typeset() {
    if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) {
      window.addEventListener("load", typeset, { once: true });  // MathJax not loaded yet
      return;
    }
    MathJax.startup.promise = MathJax.startup.promise.then(() => {
      MathJax.startup.output.clearCache();
      MathJax.typesetClear();
      MathJax.texReset();
      return MathJax.typesetPromise();
    }).then(() => document.body.setAttribute("data-math-ready", "true"))
      .catch((err) => console.error("MathJax failed:", err));
  }
  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(typeset);
  } else {
    window.addEventListener("load", typeset);
  }
})();
