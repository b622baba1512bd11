using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Broker.Migrations
{
    /// <inheritdoc />
    public partial class VehicleTelemetry : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "vehicle_telemetry",
                columns: table => new
                {
                    vehicle_id = table.Column<Guid>(type: "uuid", nullable: false),
                    account_id = table.Column<Guid>(type: "uuid", nullable: false),
                    tenant_id = table.Column<Guid>(type: "uuid", nullable: false),
                    vin = table.Column<string>(type: "character varying(17)", maxLength: 17, nullable: false),
                    status = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    skip_reason = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    since = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    configured_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    checked_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    fields = table.Column<string[]>(type: "text[]", nullable: false),
                    connected = table.Column<bool>(type: "boolean", nullable: true),
                    connectivity_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    last_signal_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    signals = table.Column<long>(type: "bigint", nullable: false),
                    delete_pending = table.Column<bool>(type: "boolean", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_vehicle_telemetry", x => x.vehicle_id);
                    table.ForeignKey(
                        name: "fk_vehicle_telemetry_vehicles_vehicle_id",
                        column: x => x.vehicle_id,
                        principalTable: "vehicles",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_vehicle_telemetry_account_id",
                table: "vehicle_telemetry",
                column: "account_id");

            migrationBuilder.CreateIndex(
                name: "ix_vehicle_telemetry_tenant_id",
                table: "vehicle_telemetry",
                column: "tenant_id");

            migrationBuilder.CreateIndex(
                name: "ix_vehicle_telemetry_vin",
                table: "vehicle_telemetry",
                column: "vin");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "vehicle_telemetry");
        }
    }
}
