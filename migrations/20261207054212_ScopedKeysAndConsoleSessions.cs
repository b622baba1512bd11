using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Broker.Migrations
{
    /// <summary>
    /// Scopes on tenant and operator keys (existing keys keep what they could do: admin, operator), console sessions in
    /// Postgres, and whether a person's email was verified (unknown for earlier sign-ins: false until the next one).
    /// A membership role outside member/admin (once accepted as a number) becomes member.
    /// </summary>
    public partial class ScopedKeysAndConsoleSessions : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "scope",
                table: "tenant_api_keys",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "Admin");

            migrationBuilder.AddColumn<bool>(
                name: "email_verified",
                table: "people",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string>(
                name: "scope",
                table: "operator_api_keys",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "Operator");

            migrationBuilder.Sql("UPDATE memberships SET role = 'Member' WHERE role NOT IN ('Member', 'Admin');");

            migrationBuilder.CreateTable(
                name: "console_sessions",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    key_hash = table.Column<byte[]>(type: "bytea", nullable: false),
                    person_id = table.Column<Guid>(type: "uuid", nullable: true),
                    ticket = table.Column<byte[]>(type: "bytea", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_console_sessions", x => x.id);
                    table.ForeignKey(
                        name: "fk_console_sessions_people_person_id",
                        column: x => x.person_id,
                        principalTable: "people",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_console_sessions_expires_at",
                table: "console_sessions",
                column: "expires_at");

            migrationBuilder.CreateIndex(
                name: "ix_console_sessions_key_hash",
                table: "console_sessions",
                column: "key_hash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_console_sessions_person_id",
                table: "console_sessions",
                column: "person_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "console_sessions");

            migrationBuilder.DropColumn(
                name: "scope",
                table: "tenant_api_keys");

            migrationBuilder.DropColumn(
                name: "email_verified",
                table: "people");

            migrationBuilder.DropColumn(
                name: "scope",
                table: "operator_api_keys");
        }
    }
}
