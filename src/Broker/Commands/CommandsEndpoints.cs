using System.Text.Json;
using Broker.Admin;
using Broker.People;
using Broker.Tenants;
using Microsoft.AspNetCore.Mvc;

namespace Broker.Commands;

/// <summary>
/// A command's result: <c>Result</c> is true only when the car did it. <c>Outcome</c>: ok; rejected (the car said no,
/// <c>Reason</c> says why, e.g. "is_charging"); timeout (no answer: the car may have acted, and the broker does not resend);
/// failed (Tesla or the protocol refused; nothing was done). <c>Channel</c>: rest or signed.
/// </summary>
public sealed record CommandResponse(Guid Id, string Command, string Vin, bool Result, string Outcome, string? Reason, string? Channel,
    IReadOnlyDictionary<string, int> Parameters, DateTimeOffset RequestedAt, DateTimeOffset? CompletedAt)
{
    public static CommandResponse Of(CommandRecord r) => new(r.Id, r.Name, r.Vin, r.Outcome == CommandOutcome.Ok, r.Outcome, r.Reason, r.Channel,
        JsonSerializer.Deserialize<Dictionary<string, int>>(r.Parameters) ?? [], r.RequestedAt, r.CompletedAt);
}

public static class CommandsEndpoints
{
    public const string IdempotencyHeader = "Idempotency-Key";

    public static void MapCommands(RouteGroupBuilder tenant)
    {
        tenant.MapPost("/accounts/{id:guid}/vehicles/{vin}/commands/{name}", SendAsync)
            .WithTags("Commands")
            .Describe("sendCommand",
                "Send a command to a car: charge_start, charge_stop, set_charging_amps {charging_amps}, set_charge_limit {percent}, "
                + "charge_port_door_open/close, auto_conditioning_start/stop, door_lock/unlock, flash_lights, honk_horn, wake_up. "
                + "The tenant's policy (allowedCommands) decides which; an Idempotency-Key header makes a retry safe for 24 hours; "
                + "?wake=true wakes a sleeping car first")
            .Accepts<Dictionary<string, int>>("application/json")
            .Produces<CommandResponse>()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
    }

    private static async Task<IResult> SendAsync(Guid id, string vin, string name, [FromQuery] bool? wake, HttpContext http, VehicleCommands commands)
    {
        var header = http.Request.Headers[IdempotencyHeader];
        var key = header.ToString();
        if (header.Count > 1 || (header.Count == 1 && (key.Trim().Length == 0 || key.Length > 255 || key.Any(c => c is < ' ' or > '~'))))
        {
            return Problem(new CommandRefused(400, "invalid_idempotency_key", "The Idempotency-Key must be one value of 1 to 255 printable ASCII characters."));
        }
        JsonElement? body = null;
        using var buffer = new MemoryStream();
        try
        {
            await http.Request.Body.CopyToAsync(buffer, http.RequestAborted);   // Kestrel's request size limit bounds it
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problem(new CommandRefused(413, "body_too_large", "The body is far larger than any command's parameters."));
        }
        if (buffer.Length > 0)
        {
            try
            {
                using var doc = JsonDocument.Parse(buffer.ToArray());
                body = doc.RootElement.Clone();
            }
            catch (JsonException)
            {
                return Problem(new CommandRefused(400, "invalid_body", "The body is not JSON; send a JSON object of the command's parameters, or nothing."));
            }
        }
        var answer = await commands.SendAsync(new CommandRequest(http.TenantId(), id, vin, name, body, key.Length > 0 ? key : null, wake == true, http.User.Actor()), http.RequestAborted);
        switch (answer)
        {
            case CommandSent sent:
                if (sent.Replayed)
                {
                    http.Response.Headers["Idempotent-Replayed"] = "true";
                }
                return TypedResults.Ok(CommandResponse.Of(sent.Record));
            case CommandRefused refused:
                if (refused.RetryAfter is { } retry)
                {
                    http.Response.Headers.RetryAfter = ((int)Math.Ceiling(retry.TotalSeconds)).ToString();
                }
                return Problem(refused);
            default:
                throw new InvalidOperationException("Unknown answer.");
        }
    }

    private static IResult Problem(CommandRefused refused)
    {
        var extensions = new Dictionary<string, object?>(refused.Extensions ?? []) { ["code"] = refused.Type };
        return TypedResults.Problem(refused.Detail, statusCode: refused.Status, title: Titles.GetValueOrDefault(refused.Type, "Command refused"), extensions: extensions);
    }

    private static readonly Dictionary<string, string> Titles = new()
    {
        ["unknown_command"] = "Unknown command",
        ["invalid_parameters"] = "Invalid parameters",
        ["command_not_allowed"] = "Command not allowed by the tenant's policy",
        ["missing_scope"] = "Missing scope",
        ["virtual_key_not_paired"] = "Virtual key not paired",
        ["vehicle_asleep"] = "Vehicle asleep",
        ["rate_limit"] = "Too many commands for this car",
        ["tesla_rate_limit"] = "Tesla's rate limit",
        ["budget"] = "Budget",
        ["idempotency_key_reused"] = "Idempotency-Key reused",
        ["command_in_progress"] = "Command in progress",
        ["account_not_active"] = "Account not active",
        ["not_found"] = "Not found",
        ["invalid_body"] = "Invalid body",
        ["invalid_idempotency_key"] = "Invalid Idempotency-Key",
        ["body_too_large"] = "Body too large",
    };
}
