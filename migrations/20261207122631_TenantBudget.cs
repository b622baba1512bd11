using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Broker.Migrations
{
    /// <inheritdoc />
    public partial class TenantBudget : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<decimal>(
                name: "budget_projected_usd",
                table: "tenants",
                type: "numeric(18,6)",
                precision: 18,
                scale: 6,
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "budget_spent_usd",
                table: "tenants",
                type: "numeric(18,6)",
                precision: 18,
                scale: 6,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "budget_state",
                table: "tenants",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "normal");

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "budget_state_since",
                table: "tenants",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "monthly_budget_usd",
                table: "tenants",
                type: "numeric(18,2)",
                precision: 18,
                scale: 2,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "budget_projected_usd",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "budget_spent_usd",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "budget_state",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "budget_state_since",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "monthly_budget_usd",
                table: "tenants");
        }
    }
}
