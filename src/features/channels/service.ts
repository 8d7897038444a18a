import type { Kysely } from "kysely";
import type { ChannelsTable, Database } from "../../db/schema";
import { decryptSecret } from "../../lib/secrets";
import type { ChannelConfig, ChannelSender, ChannelTarget } from "../../runtime/tools/message";
import { findChannelByName } from "./repository";

/** An org's channels for the message tool and the API: decrypted targets and the shared sender. */
export class ChannelService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly secretKey: Uint8Array | null,
    readonly sender: ChannelSender,
  ) {}

  /** The channel with its config decrypted (in memory only). */
  async target(row: ChannelsTable): Promise<ChannelTarget> {
    if (!this.secretKey) throw new Error("OPENPAW_SECRET_KEY is not set, so this channel's stored credentials cannot be read.");
    const config = JSON.parse(await decryptSecret(this.secretKey, row.config_enc, row.id)) as ChannelConfig;
    return { id: row.id, name: row.name, config };
  }

  /** The org's channel of that name, or null. */
  async resolve(orgId: string, name: string): Promise<ChannelTarget | null> {
    const row = await findChannelByName(this.db, orgId, name);
    return row ? this.target(row) : null;
  }
}
