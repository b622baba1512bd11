using TeslaSimulator.State;

namespace TeslaSimulator.Fleet;

/// <summary>One partner_accounts registration: the key Tesla downloaded from the domain when the partner registered.</summary>
internal sealed record PartnerRegistration(
    string ClientId, string Region, string Domain, string PublicKey, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>Partner registrations; guarded by the state gate like everything else.</summary>
internal sealed class PartnerRegistry
{
    /// <summary>One registration per app and region; registering again replaces its domain and key.</summary>
    public Dictionary<(string ClientId, string Region), PartnerRegistration> Registrations { get; } = [];

    public PartnerRegistration? ByDomain(string domain, string region) => Registrations.Values
        .FirstOrDefault(r => r.Region == region && r.Domain.Equals(domain, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// True when the car holds the key the client registered in the owner's region. The car compares keys, not
    /// names: after the partner re-registers with a new key, cars paired with the old one are unpaired again.
    /// </summary>
    public bool IsPaired(SimVehicle vehicle, string clientId) =>
        Registrations.TryGetValue((clientId, vehicle.Owner.Region), out var r)
        && vehicle.VirtualKeys.Any(k => k.PublicKey == r.PublicKey);

    public static void Pair(SimVehicle vehicle, PartnerRegistration registration, DateTimeOffset now)
    {
        vehicle.VirtualKeys.RemoveAll(k => k.Domain.Equals(registration.Domain, StringComparison.OrdinalIgnoreCase));
        vehicle.VirtualKeys.Add(new VirtualKey(registration.Domain, registration.ClientId, registration.PublicKey, now));
    }

    public static bool Unpair(SimVehicle vehicle, string domain) =>
        vehicle.VirtualKeys.RemoveAll(k => k.Domain.Equals(domain, StringComparison.OrdinalIgnoreCase)) > 0;
}
