using System.Collections.Concurrent;

namespace Broker.Tesla;

/// <summary>Tesla's billing categories (TESLA.md §7). Listing, regions, products and energy are free.</summary>
public enum FleetCategory { Free, Data, Command, Wake }

/// <summary>
/// Counts Fleet API answers per account and category for one unit of work (a poll, a connect);
/// the owner writes them to <c>api_usage</c> with <see cref="Polling.ApiUsageStore"/>.
/// </summary>
public sealed class FleetUsage
{
    private readonly ConcurrentDictionary<(Guid Tenant, Guid Account, string Device, FleetCategory Category, bool Billable), long> _calls = new();

    /// <summary>Tesla bills every answer below 500 (408, 421 and 429 included) and none from 500 up.</summary>
    public void Record(FleetAccount account, string? device, FleetCategory category, int status) =>
        _calls.AddOrUpdate((account.TenantId, account.AccountId, device ?? "", category, status < 500), 1, (_, n) => n + 1);

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
        var response = await base.SendAsync(request, cancellationToken);
        if (request.Options.TryGetValue(Key, out var tag))
        {
            tag.Usage.Record(tag.Account, tag.Device, tag.Category, (int)response.StatusCode);
        }
        return response;
    }
}
