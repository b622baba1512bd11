using System.Text.Json;

namespace Broker.Tesla;

/// <summary>Tesla's answer to a REST command: <c>{"response":{"result":bool,"reason":"…"}}</c> (TESLA.md §5.2).</summary>
public sealed record RestCommandResult(bool Result, string? Reason);

public sealed partial class TeslaFleetClient
{
    /// <summary>
    /// <c>POST /api/1/vehicles/{vin}/command/{name}</c> (billed as a command, never retried: a retry could act twice).
    /// A car that does not answer in time is a <see cref="TeslaApiException"/> with error "timeout": it may have acted.
    /// </summary>
    public async Task<RestCommandResult> SendCommandAsync(FleetAccount account, string vin, string name, IReadOnlyDictionary<string, int> parameters, CancellationToken ct)
    {
        using var body = await SendAsync(account, HttpMethod.Post, $"/api/1/vehicles/{vin}/command/{name}", FleetCategory.Command, vin, ct, parameters);
        return ResponseOf(body) is { ValueKind: JsonValueKind.Object } r && r.TryGetProperty("result", out var result) && result.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? new RestCommandResult(result.GetBoolean(), r.TryGetProperty("reason", out var reason) && reason.ValueKind == JsonValueKind.String ? Hosting.TextInput.Clean(reason.GetString()) : null)
            : throw Malformed(account, "The command's answer has no result.");
    }

    /// <summary>
    /// <c>POST /api/1/vehicles/{vin}/signed_command</c> with <c>{"routable_message": base64}</c>, answered by
    /// <c>{"response": base64}</c> (teslamotors/vehicle-command pkg/connector/inet/inet.go). Billed as a command, never
    /// retried. 422 "vehicle does not support signed commands" is a <see cref="TeslaApiException"/> with status 422.
    /// </summary>
    public async Task<byte[]> SendSignedCommandAsync(FleetAccount account, string vin, byte[] routableMessage, CancellationToken ct)
    {
        using var body = await SendAsync(account, HttpMethod.Post, $"/api/1/vehicles/{vin}/signed_command", FleetCategory.Command, vin, ct,
            new { routable_message = Convert.ToBase64String(routableMessage) });
        if (ResponseOf(body) is { ValueKind: JsonValueKind.String } r && r.TryGetBytesFromBase64(out var bytes))
        {
            return bytes;
        }
        throw Malformed(account, "signed_command answered without a base64 response.");
    }
}
