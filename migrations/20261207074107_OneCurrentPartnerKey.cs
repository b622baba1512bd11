using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Broker.Migrations
{
    /// <summary>At most one current partner key (a unique index over the rows not retired).</summary>
    public partial class OneCurrentPartnerKey : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // A race before this index could leave several current keys: the newest stays current, as CurrentAsync read it.
            migrationBuilder.Sql("""
                UPDATE partner_keys SET retired_at = now()
                WHERE retired_at IS NULL
                  AND id <> (SELECT id FROM partner_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1);
                """);
            migrationBuilder.CreateIndex(
                name: "ux_partner_keys_one_current",
                table: "partner_keys",
                column: "retired_at",
                unique: true,
                filter: "retired_at IS NULL")
                .Annotation("Npgsql:NullsDistinct", false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ux_partner_keys_one_current",
                table: "partner_keys");
        }
    }
}
