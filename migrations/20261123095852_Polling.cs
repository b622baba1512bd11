using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Broker.Migrations
{
    /// <inheritdoc />
    public partial class Polling : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "api_usage",
                columns: table => new
                {
                    account_id = table.Column<Guid>(type: "uuid", nullable: false),
                    category = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    billable = table.Column<bool>(type: "boolean", nullable: false),
                    tenant_id = table.Column<Guid>(type: "uuid", nullable: false),
                    calls = table.Column<long>(type: "bigint", nullable: false),
                    cost_usd = table.Column<decimal>(type: "numeric(18,6)", precision: 18, scale: 6, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_api_usage", x => new { x.account_id, x.category, x.billable });
                    table.ForeignKey(
                        name: "fk_api_usage_tesla_accounts_account_id",
                        column: x => x.account_id,
                        principalTable: "tesla_accounts",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "energy_site_readings",
                columns: table => new
                {
                    energy_site_id = table.Column<Guid>(type: "uuid", nullable: false),
                    account_id = table.Column<Guid>(type: "uuid", nullable: false),
                    tenant_id = table.Column<Guid>(type: "uuid", nullable: false),
                    data_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    solar_power_w = table.Column<double>(type: "double precision", nullable: true),
                    battery_power_w = table.Column<double>(type: "double precision", nullable: true),
                    load_power_w = table.Column<double>(type: "double precision", nullable: true),
                    grid_power_w = table.Column<double>(type: "double precision", nullable: true),
                    percentage_charged = table.Column<double>(type: "double precision", nullable: true),
                    energy_left_wh = table.Column<double>(type: "double precision", nullable: true),
                    total_pack_energy_wh = table.Column<double>(type: "double precision", nullable: true),
                    grid_status = table.Column<string>(type: "text", nullable: true),
                    island_status = table.Column<string>(type: "text", nullable: true),
                    storm_mode_active = table.Column<bool>(type: "boolean", nullable: true),
                    next_poll_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    retry_after = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    consecutive_failures = table.Column<int>(type: "integer", nullable: false),
                    last_error = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_energy_site_readings", x => x.energy_site_id);
                    table.ForeignKey(
                        name: "fk_energy_site_readings_energy_sites_energy_site_id",
                        column: x => x.energy_site_id,
                        principalTable: "energy_sites",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "vehicle_readings",
                columns: table => new
                {
                    vehicle_id = table.Column<Guid>(type: "uuid", nullable: false),
                    account_id = table.Column<Guid>(type: "uuid", nullable: false),
                    tenant_id = table.Column<Guid>(type: "uuid", nullable: false),
                    state = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    state_since = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    last_seen_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    data_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    battery_level = table.Column<int>(type: "integer", nullable: true),
                    usable_battery_level = table.Column<int>(type: "integer", nullable: true),
                    battery_range_miles = table.Column<double>(type: "double precision", nullable: true),
                    charging_state = table.Column<string>(type: "text", nullable: true),
                    charger_power_kw = table.Column<double>(type: "double precision", nullable: true),
                    charge_limit_soc = table.Column<int>(type: "integer", nullable: true),
                    charge_energy_added_kwh = table.Column<double>(type: "double precision", nullable: true),
                    odometer_miles = table.Column<double>(type: "double precision", nullable: true),
                    inside_temp_c = table.Column<double>(type: "double precision", nullable: true),
                    outside_temp_c = table.Column<double>(type: "double precision", nullable: true),
                    locked = table.Column<bool>(type: "boolean", nullable: true),
                    sentry_mode = table.Column<bool>(type: "boolean", nullable: true),
                    shift_state = table.Column<string>(type: "text", nullable: true),
                    speed_mph = table.Column<double>(type: "double precision", nullable: true),
                    power_kw = table.Column<double>(type: "double precision", nullable: true),
                    latitude = table.Column<double>(type: "double precision", nullable: true),
                    longitude = table.Column<double>(type: "double precision", nullable: true),
                    heading = table.Column<double>(type: "double precision", nullable: true),
                    user_present = table.Column<bool>(type: "boolean", nullable: true),
                    climate_on = table.Column<bool>(type: "boolean", nullable: true),
                    preconditioning = table.Column<bool>(type: "boolean", nullable: true),
                    doors_open = table.Column<bool>(type: "boolean", nullable: true),
                    software_update_status = table.Column<string>(type: "text", nullable: true),
                    car_type = table.Column<string>(type: "text", nullable: true),
                    firmware_version = table.Column<string>(type: "text", nullable: true),
                    next_poll_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    idle_since = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    suspended_until = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    retry_after = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    last_wake_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    consecutive_failures = table.Column<int>(type: "integer", nullable: false),
                    last_error = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_vehicle_readings", x => x.vehicle_id);
                    table.ForeignKey(
                        name: "fk_vehicle_readings_vehicles_vehicle_id",
                        column: x => x.vehicle_id,
                        principalTable: "vehicles",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_api_usage_tenant_id",
                table: "api_usage",
                column: "tenant_id");

            migrationBuilder.CreateIndex(
                name: "ix_energy_site_readings_account_id",
                table: "energy_site_readings",
                column: "account_id");

            migrationBuilder.CreateIndex(
                name: "ix_energy_site_readings_tenant_id",
                table: "energy_site_readings",
                column: "tenant_id");

            migrationBuilder.CreateIndex(
                name: "ix_vehicle_readings_account_id",
                table: "vehicle_readings",
                column: "account_id");

            migrationBuilder.CreateIndex(
                name: "ix_vehicle_readings_tenant_id",
                table: "vehicle_readings",
                column: "tenant_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "api_usage");

            migrationBuilder.DropTable(
                name: "energy_site_readings");

            migrationBuilder.DropTable(
                name: "vehicle_readings");
        }
    }
}
