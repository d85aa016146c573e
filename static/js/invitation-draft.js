// An invitation's email draft (templates/invitations/_draft.html, portal/invitations/drafts.py).
// Progressive enhancement only: without JavaScript, "Open in mail app" opens the unedited draft and the
// copy buttons stay hidden.
// - keeps the mailto: link in step with the edited subject and message;
// - copies the message (or the link) to the clipboard and says so in the page's status region.
(() => {
  const draft = document.querySelector("[data-invitation-draft]");
  if (!draft) return;
  const subject = document.getElementById(draft.dataset.subject);
  const body = document.getElementById(draft.dataset.body);
  const mailto = draft.querySelector("[data-draft-mailto]");
  const status = draft.querySelector("[data-draft-status]");

  const mailtoHref = () => {
    // RFC 6068: percent-encoded, line breaks as CRLF; the "@" of the address stays readable.
    const to = encodeURIComponent(draft.dataset.to).replace(/%40/g, "@");
    const text = body.value.replace(/\r?\n/g, "\r\n");
    return `mailto:${to}?subject=${encodeURIComponent(subject.value)}&body=${encodeURIComponent(text)}`;
  };
  if (subject && body && mailto) {
    const update = () => { mailto.href = mailtoHref(); };
    subject.addEventListener("input", update);
    body.addEventListener("input", update);
    update();
  }

  const say = (message) => {
    if (!status) return;
    status.textContent = "";
    // A fresh text node each time, so that screen readers announce a second copy too.
    window.setTimeout(() => { status.textContent = message; }, 50);
  };

  if (!navigator.clipboard) return; // the buttons stay hidden: nothing to offer
  draft.querySelectorAll("[data-draft-copy]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", () => {
      const source = document.getElementById(button.dataset.draftCopy);
      if (!source) return;
      navigator.clipboard.writeText(source.value).then(
        () => say(draft.dataset.copied),
        () => say(draft.dataset.copyFailed),
      );
    });
  });
})();
