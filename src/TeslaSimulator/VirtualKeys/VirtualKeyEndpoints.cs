using TeslaSimulator.Auth;
using TeslaSimulator.Fleet;
using TeslaSimulator.State;

namespace TeslaSimulator.VirtualKeys;

/// <summary>An owner signed in on the pairing page. Its id travels in a hidden field: no cookies, no script.</summary>
internal sealed record PairingSession(string Id, SimAccount Account, DateTimeOffset ExpiresAt);

/// <summary>Pairing sign-ins in progress; guarded by the state gate.</summary>
internal sealed class PairingSessions
{
    public Dictionary<string, PairingSession> ById { get; } = [];
}

/// <summary>
/// The stand-in for <c>https://tesla.com/_ak/&lt;domain&gt;[?vin=]</c> (TESLA.md §4.5): the owner signs in and adds the
/// key of the partner registered for that domain in the owner's region to one of their cars.
/// </summary>
internal static class VirtualKeyEndpoints
{
    private static readonly TimeSpan SessionLifetime = TimeSpan.FromMinutes(30);

    public static WebApplicationBuilder AddVirtualKeys(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<PairingSessions>();
        return builder;
    }

    public static IEndpointRouteBuilder MapVirtualKeys(this IEndpointRouteBuilder app)
    {
        app.MapGet("/_ak/{domain}", (string domain, string? vin, SimulatorState state) =>
            PartnerEndpoints.IsHostName(domain) ? VirtualKeyPages.SignIn(domain, vin, state.Accounts) : AuthPages.Error("This link is not valid."));
        app.MapPost("/_ak/{domain}", PostAsync);
        return app;
    }

    internal static async Task<IResult> PostAsync(string domain, HttpContext ctx, SimulatorState state, PartnerRegistry registry,
        PairingSessions sessions, PartnerKeyDownloader downloader)
    {
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        var filter = form["filter"].ToString() is { Length: > 0 } f ? f : null;
        if (!PartnerEndpoints.IsHostName(domain)) return AuthPages.Error("This link is not valid.");

        PairingSession session;
        PartnerRegistration registration;
        SimVehicle? vehicle;
        lock (state.Gate)
        {
            foreach (var expired in sessions.ById.Values.Where(s => s.ExpiresAt <= state.Now).ToList()) sessions.ById.Remove(expired.Id);
            if (form["action"] == "login")
            {
                var account = state.AccountByEmail(form["identity"].ToString());
                if (account is null || account.Password != form["credential"])
                    return VirtualKeyPages.SignIn(domain, filter, state.Accounts, "The email or password you entered is incorrect.");
                session = new PairingSession(AuthStore.RandomId(), account, state.Now + SessionLifetime);
                sessions.ById[session.Id] = session;
            }
            else if (!sessions.ById.TryGetValue(form["session"].ToString(), out session!))
                return VirtualKeyPages.SignIn(domain, filter, state.Accounts, "Your session has expired. Sign in again.");

            if (Refusal(domain, session.Account, state, registry, out registration) is { } refused) return refused;
            vehicle = form["action"] == "add" ? session.Account.Vehicles.FirstOrDefault(v => v.Vin == form["vin"]) : null;
            if (vehicle is null) return Vehicles(domain, filter, session, registration);
        }

        // Tesla re-reads the hosted key when a key is added: a key taken down (or changed without registering
        // again) makes pairing fail (TESLA.md §4.1). The download runs outside the lock.
        var hosted = await downloader.DownloadAsync(domain, ctx.RequestAborted);
        lock (state.Gate)
        {
            if (hosted.PublicKey != registration.PublicKey)
                return VirtualKeyPages.Refused(VirtualKeyPages.NotRegistered, hosted.Error ?? "The key hosted by the domain is not the registered key.");
            if (Refusal(domain, session.Account, state, registry, out registration) is { } refused) return refused;
            PartnerRegistry.Pair(vehicle, registration, state.Now);
            return Vehicles(domain, filter, session, registration, $"Key added to {vehicle.Seed.DisplayName}.");
        }
    }

    /// <summary>The domain must be registered in the owner's region, and the owner must have authorized that app.</summary>
    private static IResult? Refusal(string domain, SimAccount account, SimulatorState state, PartnerRegistry registry, out PartnerRegistration registration)
    {
        if (registry.ByDomain(domain, account.Region) is not { } found)
        {
            registration = null!; // only read when there is no refusal
            return VirtualKeyPages.Refused(VirtualKeyPages.NotRegistered,
                $"No application has registered {domain} in your region ({account.Region}). It must call POST /api/1/partner_accounts on that region's Fleet API.");
        }
        registration = found;
        var client = found.ClientId;
        var granted = state.Consents.Any(c => c.Sub == account.Sub && c.ClientId == client && !c.Consent.Revoked
            && c.Consent.Scopes.Overlaps([Scopes.VehicleDeviceData, Scopes.VehicleCmds, Scopes.VehicleLocation]));
        return granted ? null : VirtualKeyPages.Refused(VirtualKeyPages.NotGranted,
            "Connect the application to your Tesla account with a vehicle scope first, then add its key.");
    }

    private static IResult Vehicles(string domain, string? filter, PairingSession session, PartnerRegistration registration, string? done = null) =>
        VirtualKeyPages.Vehicles(domain, filter, session, session.Account.Vehicles
            .Where(v => filter is null || v.Vin.Equals(filter, StringComparison.OrdinalIgnoreCase))
            .Select(v => (v, v.VirtualKeys.Any(k => k.PublicKey == registration.PublicKey))), done);
}
