// The API reference at /docs: Swagger UI (vendored from swagger-ui-dist, served from /assets) over
// this gateway's own /openapi.json. A file of its own because the CSP forbids inline scripts.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("reference");
  if (!root || typeof window.SwaggerUIBundle !== "function") return;
  root.textContent = "";
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-spec") || "/openapi.json",
    dom_id: "#reference",
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    defaultModelExpandDepth: 3,
    displayRequestDuration: true,
    filter: true,
    tryItOutEnabled: false,
    persistAuthorization: false,
    // No call to swagger.io's validator: the reference works offline.
    validatorUrl: null,
  });
});
