import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('invitations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('owner', 'admin', 'member')`))
    .addColumn('invited_by', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('accepted_at', 'text')
    .addColumn('revoked_at', 'text')
    .execute();
  // At most one open invitation per address and org: inviting again replaces it (revokes, then inserts).
  await db.schema
    .createIndex('invitations_open_idx')
    .unique()
    .on('invitations')
    .columns(['org_id', 'email'])
    .where(sql.ref('accepted_at'), 'is', null)
    .where(sql.ref('revoked_at'), 'is', null)
    .execute();
  await db.schema.createIndex('invitations_email_idx').on('invitations').column('email').execute();
  // The rate limits count what an inviter and an org created in the last hour.
  await db.schema
    .createIndex('invitations_inviter_created_idx')
    .on('invitations')
    .columns(['invited_by', 'created_at'])
    .execute();
  await db.schema
    .createIndex('invitations_org_created_idx')
    .on('invitations')
    .columns(['org_id', 'created_at'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('invitations').execute();
}
