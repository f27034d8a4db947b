import type { Kysely } from 'kysely';

/**
 * API keys for machines (src/api-keys/): one organisation each, created by a member whose user id the
 * key acts as. The secret is never stored, only its SHA-256; the token names the row by id, so checking
 * a key is one primary-key read.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
    // Deleting the account deletes its keys: a key never outlives the person it acts as.
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text')
    .addColumn('revoked_at', 'text')
    .addColumn('last_used_at', 'text')
    .execute();
  // The org's key list, and revoking a removed member's keys in the org.
  await db.schema.createIndex('api_keys_org_user_idx').on('api_keys').columns(['org_id', 'user_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('api_keys').execute();
}
