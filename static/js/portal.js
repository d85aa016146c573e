// Progressive enhancement only: every page works without JavaScript.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.value ?? source.textContent).then(() => {
    button.dataset.originalLabel ??= button.textContent;
    button.textContent = button.dataset.copiedLabel || button.textContent;
    setTimeout(() => { button.textContent = button.dataset.originalLabel; }, 2000);
  });
});
