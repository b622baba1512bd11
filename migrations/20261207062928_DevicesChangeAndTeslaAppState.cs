using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Broker.Migrations
{
    /// <inheritdoc />
    public partial class DevicesChangeAndTeslaAppState : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "retired_at",
                table: "vehicles",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "products_checked_at",
                table: "tesla_accounts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "token_rejected_error",
                table: "tesla_accounts",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "token_rejected_since",
                table: "tesla_accounts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "token_retry_at",
                table: "tesla_accounts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "retired_at",
                table: "energy_sites",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "tesla_apps",
                columns: table => new
                {
                    realm = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    disabled_since = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    status = table.Column<int>(type: "integer", nullable: true),
                    error = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    next_probe_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_tesla_apps", x => x.realm);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "tesla_apps");

            migrationBuilder.DropColumn(
                name: "retired_at",
                table: "vehicles");

            migrationBuilder.DropColumn(
                name: "products_checked_at",
                table: "tesla_accounts");

            migrationBuilder.DropColumn(
                name: "token_rejected_error",
                table: "tesla_accounts");

            migrationBuilder.DropColumn(
                name: "token_rejected_since",
                table: "tesla_accounts");

            migrationBuilder.DropColumn(
                name: "token_retry_at",
                table: "tesla_accounts");

            migrationBuilder.DropColumn(
                name: "retired_at",
                table: "energy_sites");
        }
    }
}
