using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Broker.Migrations
{
    /// <inheritdoc />
    public partial class UsagePerDeviceAndWakePolicy : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropPrimaryKey(
                name: "pk_api_usage",
                table: "api_usage");

            migrationBuilder.AddColumn<int>(
                name: "wake_after_sleep_minutes",
                table: "tenants",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "device",
                table: "api_usage",
                type: "character varying(32)",
                maxLength: 32,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddPrimaryKey(
                name: "pk_api_usage",
                table: "api_usage",
                columns: new[] { "account_id", "device", "category", "billable" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropPrimaryKey(
                name: "pk_api_usage",
                table: "api_usage");

            migrationBuilder.DropColumn(
                name: "wake_after_sleep_minutes",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "device",
                table: "api_usage");

            migrationBuilder.AddPrimaryKey(
                name: "pk_api_usage",
                table: "api_usage",
                columns: new[] { "account_id", "category", "billable" });
        }
    }
}
