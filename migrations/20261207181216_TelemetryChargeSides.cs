using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Broker.Migrations
{
    /// <inheritdoc />
    public partial class TelemetryChargeSides : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "ac_charging_energy_in_kwh",
                table: "vehicle_telemetry",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "ac_charging_power_kw",
                table: "vehicle_telemetry",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "dc_charging_energy_in_kwh",
                table: "vehicle_telemetry",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "dc_charging_power_kw",
                table: "vehicle_telemetry",
                type: "double precision",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "ac_charging_energy_in_kwh",
                table: "vehicle_telemetry");

            migrationBuilder.DropColumn(
                name: "ac_charging_power_kw",
                table: "vehicle_telemetry");

            migrationBuilder.DropColumn(
                name: "dc_charging_energy_in_kwh",
                table: "vehicle_telemetry");

            migrationBuilder.DropColumn(
                name: "dc_charging_power_kw",
                table: "vehicle_telemetry");
        }
    }
}
