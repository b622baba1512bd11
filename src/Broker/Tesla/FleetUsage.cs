using System.Collections.Concurrent;

namespace Broker.Tesla;

/// <summary>Tesla's billing categories (TESLA.md §7). Listing, regions, products and energy are free.</summary>
public enum FleetCategory { Free, Data, Command, Wake, Streaming }

/// <summary>
/// Counts Fleet API answers per account and category for one unit of work (a poll, a connect);
/// the owner writes them to <c>api_usage</c> with <see cref="Polling.ApiUsageStore"/>.
/// </summary>
public sealed class FleetUsage
{
    private readonly ConcurrentDictionary<(Guid Tenant, Guid Account, string Device, FleetCategory Category, bool Billable), long> _calls = new();
    private readonly ConcurrentDictionary<(Guid Tenant, Guid Account, string Reason, int Status), long> _failures = new();

    /// <summary>Tesla bills every answer below 500 (408, 421 and 429 included) and none from 500 up.</summary>
    public void Record(FleetAccount account, string? device, FleetCategory category, int status) =>
        _calls.AddOrUpdate((account.TenantId, account.AccountId, device ?? "", category, status < 500), 1, (_, n) => n + 1);

    /// <summary>Signals a car streamed (Fleet Telemetry): Tesla bills each one.</summary>
    public void RecordSignals(Guid tenantId, Guid accountId, string vin, long signals) =>
        _calls.AddOrUpdate((tenantId, accountId, vin, FleetCategory.Streaming, true), signals, (_, n) => n + signals);

    /// <summary>
    /// A Fleet API attempt that failed: <paramref name="reason"/> is rate_limited, unauthorized, client_error,
    /// server_error, timeout, unreachable or malformed; <paramref name="status"/> is 0 when nothing was answered.
    /// 408 (asleep) and a followed 421 are answers, not failures, and are not recorded here.
    /// </summary>
    public void RecordFailure(FleetAccount account, string reason, int status)
    {
        if (account.AccountId != Guid.Empty)
        {
            _failures.AddOrUpdate((account.TenantId, account.AccountId, reason, status), 1, (_, n) => n + 1);
        }
    }

    public static string FailureReason(int status) => status switch
    {
        429 => "rate_limited",
        401 or 403 => "unauthorized",
        >= 500 => "server_error",
        _ => "client_error",
    };

    public IReadOnlyList<(Guid Tenant, Guid Account, string Reason, int Status, long Calls)> DrainFailures()
    {
        var drained = new List<(Guid, Guid, string, int, long)>();
        foreach (var key in _failures.Keys)
        {
            if (_failures.TryRemove(key, out var n))
            {
                drained.Add((key.Tenant, key.Account, key.Reason, key.Status, n));
            }
        }
        return drained;
    }

    public IReadOnlyList<(Guid Tenant, Guid Account, string Device, FleetCategory Category, bool Billable, long Calls)> Drain()
    {
        var drained = new List<(Guid, Guid, string, FleetCategory, bool, long)>();
        foreach (var key in _calls.Keys)
        {
            if (_calls.TryRemove(key, out var n))
            {
                drained.Add((key.Tenant, key.Account, key.Device, key.Category, key.Billable, n));
            }
        }
        return drained;
    }

    public static decimal PriceUsd(FleetCategory category) => category switch
    {
        FleetCategory.Data => 0.002m,
        FleetCategory.Command => 0.001m,
        FleetCategory.Wake => 0.02m,
        FleetCategory.Streaming => 1m / 150_000m,   // a Fleet Telemetry signal: one field a car sent
        _ => 0m,
    };
}

/// <summary>
/// Sits inside the retry handler, so every attempt that reaches Tesla is counted, retries included:
/// that is what Tesla counts. The request carries its <see cref="FleetUsage"/> and category.
/// </summary>
internal sealed class FleetUsageHandler : DelegatingHandler
{
    internal static readonly HttpRequestOptionsKey<(FleetUsage Usage, FleetAccount Account, string? Device, FleetCategory Category)> Key = new("broker.fleet-usage");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var tagged = request.Options.TryGetValue(Key, out var tag);
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, cancellationToken);
        }
        catch (Exception ex) when (tagged && ex is OperationCanceledException or HttpRequestException)
        {
            // No answer: not billed, but a failure worth counting (each attempt, as the retries see it).
            tag.Usage.RecordFailure(tag.Account, ex is HttpRequestException ? "unreachable" : "timeout", 0);
            throw;
        }
        if (tagged)
        {
            var status = (int)response.StatusCode;
            tag.Usage.Record(tag.Account, tag.Device, tag.Category, status);
            if (status >= 400 && status is not (408 or 421))
            {
                tag.Usage.RecordFailure(tag.Account, FleetUsage.FailureReason(status), status);
            }
        }
        return response;
    }
}
