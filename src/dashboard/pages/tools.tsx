import type { ApiApp } from "../api";
import { type Dashboard, orgPage } from "../page";
import { Layout } from "../ui";

/** MCP servers and message channels: their API does not exist on this server yet, and the page says so. */
export function registerToolPages(app: Dashboard, api: ApiApp) {
  app.get(
    "/orgs/:orgId/tools",
    orgPage(api, (c, view) =>
      c.html(
        <Layout view={view} title="Tools" active="Tools">
          <h2>MCP servers</h2>
          <p class="note">Connecting MCP servers is not available on this server yet: the gateway has no MCP server API.</p>
          <h2>Message channels</h2>
          <p class="note">Message channels are not available on this server yet: the gateway has no channel API.</p>
          <p>
            Built-in tools are enabled per agent on each <a href={`/orgs/${view.org.id}/agents`}>agent's page</a>.
          </p>
        </Layout>,
      ),
    ),
  );
}
