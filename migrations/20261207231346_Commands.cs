using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Broker.Migrations
{
    /// <inheritdoc />
    public partial class Commands : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "command_protocol_required",
                table: "vehicles",
                type: "boolean",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "charge_current_request",
                table: "vehicle_readings",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "charge_current_request_max",
                table: "vehicle_readings",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<string[]>(
                name: "allowed_commands",
                table: "tenants",
                type: "text[]",
                nullable: false,
                // Existing tenants get what a new one gets: the charging commands (CommandCatalog.DefaultAllowed).
                defaultValue: new[] { "charge_start", "charge_stop", "set_charging_amps", "set_charge_limit", "charge_port_door_open", "charge_port_door_close" });

            migrationBuilder.CreateTable(
                name: "command_sessions",
                columns: table => new
                {
                    vehicle_id = table.Column<Guid>(type: "uuid", nullable: false),
                    domain = table.Column<int>(type: "integer", nullable: false),
                    partner_key_id = table.Column<Guid>(type: "uuid", nullable: false),
                    car_public_key = table.Column<byte[]>(type: "bytea", nullable: false),
                    epoch = table.Column<byte[]>(type: "bytea", nullable: false),
                    counter = table.Column<long>(type: "bigint", nullable: false),
                    clock_time = table.Column<long>(type: "bigint", nullable: false),
                    clock_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_command_sessions", x => new { x.vehicle_id, x.domain });
                    table.ForeignKey(
                        name: "fk_command_sessions_vehicles_vehicle_id",
                        column: x => x.vehicle_id,
                        principalTable: "vehicles",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "vehicle_commands",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    tenant_id = table.Column<Guid>(type: "uuid", nullable: false),
                    account_id = table.Column<Guid>(type: "uuid", nullable: false),
                    vehicle_id = table.Column<Guid>(type: "uuid", nullable: false),
                    vin = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    name = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    parameters = table.Column<string>(type: "jsonb", nullable: false),
                    idempotency_key = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: true),
                    actor = table.Column<string>(type: "character varying(400)", maxLength: 400, nullable: false),
                    requested_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    completed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    outcome = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    reason = table.Column<string>(type: "character varying(400)", maxLength: 400, nullable: true),
                    channel = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: true),
                    fleet_calls = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_vehicle_commands", x => x.id);
                    table.ForeignKey(
                        name: "fk_vehicle_commands_vehicles_vehicle_id",
                        column: x => x.vehicle_id,
                        principalTable: "vehicles",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_vehicle_commands_account_id",
                table: "vehicle_commands",
                column: "account_id");

            migrationBuilder.CreateIndex(
                name: "ix_vehicle_commands_tenant_id_idempotency_key",
                table: "vehicle_commands",
                columns: new[] { "tenant_id", "idempotency_key" },
                unique: true,
                filter: "idempotency_key IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_vehicle_commands_vehicle_id",
                table: "vehicle_commands",
                column: "vehicle_id");

            migrationBuilder.CreateIndex(
                name: "ix_vehicle_commands_vin_requested_at",
                table: "vehicle_commands",
                columns: new[] { "vin", "requested_at" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "command_sessions");

            migrationBuilder.DropTable(
                name: "vehicle_commands");

            migrationBuilder.DropColumn(
                name: "command_protocol_required",
                table: "vehicles");

            migrationBuilder.DropColumn(
                name: "charge_current_request",
                table: "vehicle_readings");

            migrationBuilder.DropColumn(
                name: "charge_current_request_max",
                table: "vehicle_readings");

            migrationBuilder.DropColumn(
                name: "allowed_commands",
                table: "tenants");
        }
    }
}
