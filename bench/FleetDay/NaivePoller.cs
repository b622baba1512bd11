using System.Net.Http.Headers;
using System.Text.Json;

namespace FleetDay;

/// <summary>
/// The seed exporter's algorithm, written against the Fleet API with plain HttpClient calls: every
/// <c>interval</c>, list the account's cars (free) and read vehicle_data for every car that is online;
/// a car seen asleep for <c>wakeAfter</c> is woken. Energy sites: live_status every interval. Tokens
/// are its own (its own OAuth client), refreshed five minutes before they expire.
/// </summary>
public sealed class NaivePoller(SimWorld sim, TimeProvider time, TimeSpan interval, TimeSpan wakeAfter)
{
    private readonly List<Account> _accounts = [];

    /// <summary>When each car's last vehicle_data succeeded (for staleness; call counts come from the simulator's ledger).</summary>
    public Dictionary<string, DateTimeOffset> DataAt { get; } = [];

    public async Task AddAccountAsync(string email, string password, string baseUrl, params long[] energySites)
    {
        var tokens = await Connect.ExporterTokensAsync(sim, time, email, password, baseUrl);
        _accounts.Add(new Account(baseUrl, energySites) { Tokens = tokens, NextTick = time.GetUtcNow() });
    }

    public async Task TickAsync()
    {
        var now = time.GetUtcNow();
        foreach (var account in _accounts.Where(a => a.NextTick <= now))
        {
            account.NextTick = now + interval;
            if (account.Tokens.ExpiresAt - now < TimeSpan.FromMinutes(5))
            {
                account.Tokens = await Connect.RefreshAsync(sim, time, account.Tokens.Refresh);
            }
            var fleet = sim.Client(account.BaseUrl);
            fleet.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", account.Tokens.Access);

            using var list = JsonDocument.Parse(await fleet.GetStringAsync("/api/1/vehicles"));
            foreach (var car in list.RootElement.GetProperty("response").EnumerateArray())
            {
                var vin = car.GetProperty("vin").GetString()!;
                switch (car.GetProperty("state").GetString())
                {
                    case "online":
                        account.AsleepSince.Remove(vin);
                        if ((await fleet.GetAsync($"/api/1/vehicles/{vin}/vehicle_data")).IsSuccessStatusCode)
                        {
                            DataAt[vin] = now;
                        }
                        break;
                    case "asleep":
                        var since = account.AsleepSince.TryGetValue(vin, out var s) ? s : account.AsleepSince[vin] = now;
                        if (now - since >= wakeAfter)
                        {
                            (await fleet.PostAsync($"/api/1/vehicles/{vin}/wake_up", null)).EnsureSuccessStatusCode();
                            account.AsleepSince.Remove(vin);
                        }
                        break;
                }
            }
            foreach (var site in account.EnergySites)
            {
                (await fleet.GetAsync($"/api/1/energy_sites/{site}/live_status")).EnsureSuccessStatusCode();
            }
        }
    }

    private sealed class Account(string baseUrl, long[] energySites)
    {
        public string BaseUrl { get; } = baseUrl;
        public long[] EnergySites { get; } = energySites;
        public required ExporterTokens Tokens { get; set; }
        public DateTimeOffset NextTick { get; set; }
        public Dictionary<string, DateTimeOffset> AsleepSince { get; } = [];
    }
}
