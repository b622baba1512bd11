using Broker.Admin;
using Broker.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Tesla;

/// <summary>
/// Keeps the rules for a developer app Tesla has disabled (402, or 403 "account disabled: EXCEEDED_LIMIT"):
/// <list type="number">
/// <item>It is app-wide: one such answer, for any account, stops every tenant's calls in that realm.</item>
/// <item>While it stands, no call is made but one probe per <see cref="PollingProbe"/> interval, claimed by one poller
/// on one replica (a conditional update), so a disabled app is not billed 4xx answers by every account every minute.</item>
/// <item>It is told once each way: an audit entry when it starts and when it ends, and the state in Postgres, which the
/// metrics and the console banner read. Tesla sends no Retry-After for it (vehicle-command#403, TeslaMate PR #5476).</item>
/// </list>
/// </summary>
public sealed class TeslaAppGuard(
    BrokerDbContext db, AuditLog audit, TimeProvider time, IOptions<Polling.PollingOptions> options, IOptions<TeslaOptions> tesla, ILogger<TeslaAppGuard> logger)
{
    private TimeSpan PollingProbe => TimeSpan.FromMinutes(options.Value.DisabledAppProbeMinutes);

    /// <summary>Each realm is a developer app of its own, with its own billing (China's, <c>Tesla:Auth:cn</c>); the rest share the global one.</summary>
    private string RealmOf(string region) => tesla.Value.RealmNameOf(region);

    /// <summary>Whether a poll may call Tesla now: the app is fine (Probing false), or this caller holds the probe.</summary>
    public sealed record Gate(bool Allowed, bool Probing, DateTimeOffset? NotBefore);

    public async Task<Gate> CheckAsync(string region, CancellationToken ct)
    {
        var realm = RealmOf(region);
        var now = time.GetUtcNow();
        var state = await db.TeslaApps.AsNoTracking().Where(a => a.Realm == realm && a.DisabledSince != null)
            .Select(a => new { a.NextProbeAt }).SingleOrDefaultAsync(ct);
        if (state is null)
        {
            return new(true, false, null);
        }
        var next = now + PollingProbe;
        var claimed = await db.TeslaApps.Where(a => a.Realm == realm && a.DisabledSince != null && (a.NextProbeAt == null || a.NextProbeAt <= now))
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.NextProbeAt, next), ct);
        return claimed == 1 ? new(true, true, null) : new(false, false, state.NextProbeAt > now ? state.NextProbeAt : next);
    }

    /// <summary>Records Tesla's refusal of the app (audited when it starts, not at every probe). The caller's save writes it.</summary>
    public async Task DisabledAsync(string region, TeslaApiException refusal, CancellationToken ct)
    {
        var realm = RealmOf(region);
        var now = time.GetUtcNow();
        var row = await db.TeslaApps.SingleOrDefaultAsync(a => a.Realm == realm, ct) ?? db.TeslaApps.Add(new TeslaAppState { Realm = realm }).Entity;
        if (row.DisabledSince is null)
        {
            row.DisabledSince = now;
            audit.Add("tesla.app_disabled", detail: $"realm={realm}; status={refusal.Status}; error={refusal.Error}");
            logger.LogError("Tesla disabled this app in realm {Realm} ({Status} {Error}): no Fleet API calls but one probe every {Minutes} min until it is lifted",
                realm, refusal.Status, refusal.Error, PollingProbe.TotalMinutes);
        }
        (row.Status, row.Error) = (refusal.Status, refusal.Error is { Length: > 200 } e ? e[..200] : refusal.Error);
        row.NextProbeAt = now + PollingProbe;
    }

    /// <summary>The probe went through: the app is accepted again. The caller's save writes the audit entry.</summary>
    public async Task LiftedAsync(string region, CancellationToken ct)
    {
        var realm = RealmOf(region);
        var lifted = await db.TeslaApps.Where(a => a.Realm == realm && a.DisabledSince != null)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.DisabledSince, (DateTimeOffset?)null).SetProperty(a => a.NextProbeAt, (DateTimeOffset?)null), ct);
        if (lifted > 0)
        {
            // Whoever's request Tesla happened to answer (a person connecting, an operator registering) did not enable it: Tesla did.
            audit.Add("tesla.app_enabled", detail: $"realm={realm}", actor: "tesla");
            logger.LogWarning("Tesla accepts this app again in realm {Realm}: polling resumes", realm);
        }
    }
}
