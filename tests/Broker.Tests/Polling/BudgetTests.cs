using System.Net.Http.Json;
using Broker.Polling;
using Broker.Tenants;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Polling;

/// <summary>A tenant's monthly Fleet API budget (PUT /api/v1/policy) against the ledger, through the real poller and simulator.</summary>
public sealed class BudgetTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string MidnightRunner = "5YJ3E1EA7PF381204";   // driving: read every poll while the budget allows
    private const string Nachtfalke = "XP7YGCEK1PB209361";       // asleep: woken only where allowed

    [Fact]
    public async Task TheBudgetIsPartOfThePolicyAndOutOfRangeValuesAreRefused()
    {
        var api = ApiClient(ApiKey);
        var put = await api.PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = (int?)null, monthlyBudgetUsd = 12.5m }, Ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(12.5m, (await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy")).MonthlyBudgetUsd);

        foreach (var bad in new object[] { -1, 0, 2_000_000, "ten", 12.345m, 0.001m })
        {
            var response = await api.PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = (int?)null, monthlyBudgetUsd = bad }, Ct);
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        }
        // Refused, not rounded: the console's form says the same of 12.345.
        var cents = await api.PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = (int?)null, monthlyBudgetUsd = 12.345m }, Ct);
        Assert.Contains("at most two decimals", await cents.Content.ReadAsStringAsync(Ct));
        Assert.Equal(12.5m, (await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy")).MonthlyBudgetUsd);

        // Left out: no budget (a PUT replaces the whole policy).
        (await api.PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = (int?)null }, Ct)).EnsureSuccessStatusCode();
        Assert.Null((await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy")).MonthlyBudgetUsd);
    }

    [Fact]
    public async Task ASpentBudgetStopsBilledCallsAndIsAuditedOnce()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await SpendAsync(1.2m);
        // The answer to the PUT already judges the month under the new budget.
        Assert.Equal("stopped", (await SetBudgetAsync(budget: 1m, wake: null)).BudgetState);
        await ResetSimCallsAsync();

        await PollAccountsAsync();
        Time.Advance(TimeSpan.FromMinutes(5));
        await PollAccountsAsync();

        var calls = await SimCallsAsync();
        Assert.DoesNotContain(calls, c => c.Category is "data" or "wake");
        Assert.Contains(calls, c => c.Category == "meta"); // the free list goes on
        var policy = await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy");
        Assert.Equal("stopped", policy.BudgetState);
        await using var db = Broker.CreateDbContext();
        Assert.Equal(1, await db.AuditEvents.CountAsync(e => e.Action == "tenant.budget_state_changed" && e.TenantId == TenantId, Ct));
        var metrics = await ScrapeMetricsAsync(ApiKey);
        Assert.Contains("tesla_broker_tenant_budget_state{tenant=\"household\",state=\"stopped\"} 1", metrics);
        Assert.Contains("tesla_broker_tenant_budget_dollars{tenant=\"household\"} 1", metrics);

        // No budget: nothing held back, at once, and the way back to normal is audited like the way there.
        var cleared = await ApiClient(ApiKey).PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = (int?)null }, Ct);
        Assert.Equal("normal", (await cleared.Content.ReadFromJsonAsync<PolicyResponse>(Ct))!.BudgetState);
        Assert.Equal(["state=stopped", "state=normal"], (await db.AuditEvents.Where(e => e.Action == "tenant.budget_state_changed" && e.TenantId == TenantId)
            .OrderBy(e => e.Id).Select(e => e.Detail).ToListAsync(Ct)).Select(d => d!.Split(' ')[0]));
    }

    [Fact]
    public async Task AProjectionAboveTheBudgetSlowsReadsAndNeverWakes()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo");
        // Spent well under the budget, but at this rate the month ends far above it.
        var now = Time.GetUtcNow();
        var elapsedDays = Math.Max(1, (now - new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero)).TotalDays);
        var budget = 10m;
        await SpendAsync(Math.Min(budget * 0.9m, budget * 4 * (decimal)elapsedDays / DateTime.DaysInMonth(now.Year, now.Month)));
        await SetBudgetAsync(budget, wake: 1);
        await ResetSimCallsAsync();

        await PollAccountsAsync();
        var reading = await ReadingAsync(MidnightRunner);
        var policy = await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy");
        Assert.Equal("slow", policy.BudgetState);
        Assert.True(policy.ProjectedThisMonthUsd > budget);
        // Driving is read every 45 s normally (PollingOptions): now at least twice as far apart.
        Assert.True(reading.NextPollAt - Time.GetUtcNow() >= TimeSpan.FromSeconds(90), $"next read in {reading.NextPollAt - Time.GetUtcNow()}");

        // The tenant allows waking after 1 minute of sleep; slowed down, the broker does not wake.
        Time.Advance(TimeSpan.FromMinutes(10));
        await PollAccountsAsync();
        Assert.DoesNotContain(await SimCallsAsync(), c => c.Category == "wake" && c.Device == Nachtfalke);
    }

    [Fact]
    public async Task TheLedgerIsSummedOnceAMinuteButANewBudgetCountsAtTheNextPoll()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();
        var first = await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy");
        Assert.Equal("normal", first.BudgetState);

        // Within the minute the figures stand, however much more the ledger holds...
        await SpendAsync(3m);
        await PollAccountsAsync();
        Assert.Equal(first.SpentThisMonthUsd, (await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy")).SpentThisMonthUsd);

        // ...but a budget set meanwhile is applied at once: spent already, so no billed call.
        await SetBudgetAsync(budget: 2m, wake: null);
        await ResetSimCallsAsync();
        await PollAccountsAsync();
        Assert.DoesNotContain(await SimCallsAsync(), c => c.Category is "data" or "wake");
        var stopped = await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy");
        Assert.Equal("stopped", stopped.BudgetState);
        Assert.True(stopped.SpentThisMonthUsd >= 3m, $"spent {stopped.SpentThisMonthUsd}");
    }

    private async Task<PolicyResponse> SetBudgetAsync(decimal budget, int? wake)
    {
        var response = await ApiClient(ApiKey).PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = wake, monthlyBudgetUsd = budget }, Ct);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<PolicyResponse>(Ct))!;
    }

    /// <summary>What the ledger would hold after this month's calls: one row of data calls worth <paramref name="usd"/>.</summary>
    private async Task SpendAsync(decimal usd)
    {
        await using var db = Broker.CreateDbContext();
        var account = await db.TeslaAccounts.OrderBy(a => a.Id).FirstAsync(Ct);
        var now = Time.GetUtcNow();
        db.ApiUsage.Add(new ApiUsage
        {
            AccountId = account.Id, TenantId = TenantId, Device = "earlier", Category = "data", Billable = true,
            Month = new DateOnly(now.Year, now.Month, 1), Calls = (long)(usd / 0.002m), CostUsd = usd,
        });
        await db.SaveChangesAsync(Ct);
    }

    private async Task<VehicleReading> ReadingAsync(string vin)
    {
        await using var db = Broker.CreateDbContext();
        return await db.VehicleReadings.AsNoTracking().SingleAsync(r => r.VehicleId == db.Vehicles.Single(v => v.Vin == vin).Id, Ct);
    }
}
