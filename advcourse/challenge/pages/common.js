// Shared by the challenge's pages (inlined by the server: the pages load nothing).
function rowOf(cells) {  // a table row of [class, text] cells; text only, never HTML
  const tr = document.createElement("tr");
  for (const [cls, text] of cells) {
    const td = document.createElement("td"); td.className = cls; td.textContent = text; tr.appendChild(td);
  }
  return tr;
}
