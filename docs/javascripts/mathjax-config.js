// MathJax 3, served from this site (tools/mkdocs_hooks.py copies it from the
// django-static-mathjax package), so the maths renders offline. The guides'
// formulas come from pymdownx.arithmatex (\( \) and \[ \]), the tutorials' from
// notebook markdown cells ($ and $$). Code (pre, code) is never typeset.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true,
  },
};
