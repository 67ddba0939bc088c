// Terrain dashboard: small conveniences only; every page works without this script.
document.addEventListener("DOMContentLoaded", () => {
  // "Select all" boxes tick every row box of the same name.
  document.querySelectorAll("[data-select-all]").forEach((all) => {
    all.addEventListener("change", () => {
      const name = all.getAttribute("data-select-all");
      document.querySelectorAll(`input[type=checkbox][name="${name}"]`).forEach((box) => {
        box.checked = all.checked;
      });
    });
  });
  // Rejections are final enough to ask once.
  const lang = document.querySelector('meta[name="terrain-lang"]')?.content;
  const question = lang === "en" ? "Reject? The survey stays, but leaves the datasets." : "Rejeter ? L'enquête reste, mais sort des jeux de données.";
  document.querySelectorAll("button.danger").forEach((button) => {
    button.addEventListener("click", (event) => {
      if (!window.confirm(question)) event.preventDefault();
    });
  });
});
