using System.Text.Json;
using System.Text.Json.Serialization;

namespace Broker.Tesla;

/// <summary>Body of a successful <c>/oauth2/v3/token</c> answer (TESLA.md §1.7).</summary>
public sealed record TeslaTokenResponse(
    [property: JsonPropertyName("access_token")] string AccessToken,
    [property: JsonPropertyName("refresh_token")] string? RefreshToken,
    [property: JsonPropertyName("id_token")] string? IdToken,
    [property: JsonPropertyName("expires_in")] int ExpiresIn,
    [property: JsonPropertyName("token_type")] string? TokenType);

/// <summary>OAuth-style error body of the auth server (TESLA.md §1.10).</summary>
public sealed record TeslaAuthError(
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("error_description")] string? ErrorDescription);

/// <summary>The Fleet API envelope <c>{"response": ..., "error": ..., "error_description": ...}</c>.</summary>
public sealed record FleetEnvelope<T>(
    [property: JsonPropertyName("response")] T? Response,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("error_description")] string? ErrorDescription);

/// <summary>The virtual-key part of a <c>fleet_status</c> answer (TESLA.md §4.6).</summary>
public sealed record FleetStatus(
    [property: JsonPropertyName("key_paired_vins")] IReadOnlyList<string>? KeyPairedVins,
    [property: JsonPropertyName("unpaired_vins")] IReadOnlyList<string>? UnpairedVins,
    [property: JsonPropertyName("vehicle_info")] IReadOnlyDictionary<string, FleetStatusVehicle?>? VehicleInfo = null);

/// <summary>What fleet_status says about one car; only what the broker uses (TESLA.md §4.6).</summary>
public sealed record FleetStatusVehicle(
    [property: JsonPropertyName("vehicle_command_protocol_required")] bool? VehicleCommandProtocolRequired);

public sealed record PartnerPublicKey([property: JsonPropertyName("public_key")] string? PublicKey);

/// <summary>The part of <c>/api/1/users/me</c> the broker keeps.</summary>
public sealed record UserProfile([property: JsonPropertyName("email")] string? Email);

public sealed record UserRegion(
    [property: JsonPropertyName("region")] string Region,
    [property: JsonPropertyName("fleet_api_base_url")] string FleetApiBaseUrl);

/// <summary>
/// One item of <c>/api/1/products</c>: a vehicle (has <c>vin</c>) or an energy site (has
/// <c>energy_site_id</c>). Only the fields the broker keeps are read. <c>id</c> is a number for
/// vehicles and a string (<c>STE…</c>) for energy sites, hence the raw element.
/// </summary>
public sealed record Product(
    [property: JsonPropertyName("id")] JsonElement? Id,
    [property: JsonPropertyName("vehicle_id")] long? VehicleId,
    [property: JsonPropertyName("vin")] string? Vin,
    [property: JsonPropertyName("display_name")] string? DisplayName,
    [property: JsonPropertyName("state")] string? State,
    [property: JsonPropertyName("energy_site_id")] long? EnergySiteId,
    [property: JsonPropertyName("site_name")] string? SiteName,
    [property: JsonPropertyName("resource_type")] string? ResourceType,
    [property: JsonPropertyName("components")] ProductComponents? Components);

public sealed record ProductComponents(
    [property: JsonPropertyName("battery")] bool Battery,
    [property: JsonPropertyName("solar")] bool Solar);

public static class ProductExtensions
{
    /// <summary>The numeric vehicle id (the <c>{vehicle_tag}</c> Tesla's paths accept besides the VIN).</summary>
    public static long? NumericId(this Product product) =>
        product.Id is { ValueKind: JsonValueKind.Number } id && id.TryGetInt64(out var value) ? value : null;
}
