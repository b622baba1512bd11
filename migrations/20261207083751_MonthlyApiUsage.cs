using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Broker.Migrations
{
    /// <summary>
    /// The usage ledger by calendar month (Tesla bills monthly; the console shows this month, budgets project it).
    /// Counts made before carry the month of the upgrade: nothing older can be told apart.
    /// </summary>
    public partial class MonthlyApiUsage : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropPrimaryKey(
                name: "pk_api_usage",
                table: "api_usage");

            migrationBuilder.AddColumn<DateOnly>(
                name: "month",
                table: "api_usage",
                type: "date",
                nullable: false,
                defaultValueSql: "date_trunc('month', now() AT TIME ZONE 'UTC')::date");

            migrationBuilder.AddPrimaryKey(
                name: "pk_api_usage",
                table: "api_usage",
                columns: new[] { "account_id", "device", "category", "billable", "month" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropPrimaryKey(
                name: "pk_api_usage",
                table: "api_usage");

            migrationBuilder.DropColumn(
                name: "month",
                table: "api_usage");

            migrationBuilder.AddPrimaryKey(
                name: "pk_api_usage",
                table: "api_usage",
                columns: new[] { "account_id", "device", "category", "billable" });
        }
    }
}
