// A long <select data-filterable> gets a search box above it: typing narrows the options to
// those whose text contains every typed word (a county has a thousand units to refer a case
// to). Without JavaScript the plain select stays.
(function () {
  document.querySelectorAll("select[data-filterable]").forEach(function (select) {
    const box = document.createElement("input");
    box.type = "search";
    box.className = "form-control form-control-sm mb-1";
    box.placeholder = "输入名称筛选选项";
    box.setAttribute("aria-label", "筛选“" + (select.labels[0] ? select.labels[0].textContent.replace("*", "").trim() : "选项") + "”");
    box.setAttribute("aria-controls", select.id);
    select.before(box);
    box.addEventListener("input", function () {
      const words = box.value.trim().split(/\s+/).filter(Boolean);
      let shown = 0;
      Array.from(select.options).forEach(function (o) {
        const keep = !o.value || o.selected || words.every(function (w) { return o.text.indexOf(w) >= 0; });
        o.hidden = !keep;
        if (keep && o.value) shown += 1;
      });
      box.setCustomValidity(shown ? "" : "没有匹配的选项");
      box.title = shown ? "" : "没有匹配的选项";
    });
  });
})();
