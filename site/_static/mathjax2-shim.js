/* The ipywidgets HTML manager typesets widget labels with MathJax 2's one call,
   MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the site loads MathJax 3, which has no Hub.
   This maps that call onto MathJax 3 (loaded after MathJax, before any widget is drawn). */
(function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub) return;
  mj.Hub = {
    Queue: function (command) {
      var element = command && command[2];
      if (element && mj.startup && mj.startup.promise) {
        mj.startup.promise.then(function () { return mj.typesetPromise([element]); });
      }
    },
  };
})();
