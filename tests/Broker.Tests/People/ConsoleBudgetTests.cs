using System.Net;
using Broker.Polling;
using Broker.Tenants;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.People;

/// <summary>The monthly Fleet API budget in the console (the tenant page's form, PUT /api/v1/policy's twin) and the month's spend shown per account.</summary>
public sealed class ConsoleBudgetTests(PostgresServer postgres) : ConsoleTestBase(postgres)
{
    [Fact]
    public async Task AnAdminSetsAndClearsTheBudgetOnTheTenantPageAndBadAmountsChangeNothing()
    {
        var op = await new ConsolePerson(Broker).SignInAsync(Provider, "operator@example.com", "operator-demo");
        Assert.Contains("No monthly limit", await PageAsync(op));

        AssertRedirect(await op.PostFormAsync("/console/tenants/household/budget", KeyValuePair.Create("budget", "25")));
        Assert.Equal(25m, (await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy")).MonthlyBudgetUsd);
        var page = await PageAsync(op);
        Assert.Contains("At most <strong>$25.00</strong> a month", page);
        Assert.Contains("value=\"25.00\"", page);   // the form shows what is set

        foreach (var bad in new[] { "-1", "0", "0.001", "1.005", "2000000", "ten", "1e3", "25,5", "+25" })
        {
            var response = await op.PostFormAsync("/console/tenants/household/budget", KeyValuePair.Create("budget", bad));
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{bad}: {(int)response.StatusCode}");
            Assert.Contains("A budget is an amount in US dollars", await response.Content.ReadAsStringAsync(Ct));
        }
        Assert.Equal(25m, (await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy")).MonthlyBudgetUsd);
        // A post without the field (its token only) is not the form: it must not clear the budget.
        var fieldless = await op.PostFormAsync("/console/tenants/household/budget");
        Assert.Equal(HttpStatusCode.BadRequest, fieldless.StatusCode);
        Assert.Equal(25m, (await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy")).MonthlyBudgetUsd);

        // A dollar sign and cents are fine; an empty field removes the limit.
        AssertRedirect(await op.PostFormAsync("/console/tenants/household/budget", KeyValuePair.Create("budget", "$7.50")));
        Assert.Equal(7.5m, (await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy")).MonthlyBudgetUsd);
        AssertRedirect(await op.PostFormAsync("/console/tenants/household/budget", KeyValuePair.Create("budget", " ")));
        Assert.Null((await GetJsonAsync<PolicyResponse>(ApiKey, "/api/v1/policy")).MonthlyBudgetUsd);
        Assert.Contains("No monthly limit", await PageAsync(op));

        await using var db = Broker.CreateDbContext();
        var changes = await db.AuditEvents.Where(e => e.TenantId == TenantId && e.Action == "tenant.policy_changed").OrderBy(e => e.Id)
            .Select(e => e.Detail).ToListAsync(Ct);
        Assert.Equal(["monthly_budget_usd=25.00", "monthly_budget_usd=7.50", "monthly_budget_usd=none"], changes);
    }

    [Fact]
    public async Task TheStateOfTheMonthIsOnTheTenantPageAndStreamedSignalsAreNotCountedAsCalls()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        var op = await new ConsolePerson(Broker).SignInAsync(Provider, "operator@example.com", "operator-demo");
        await using (var db = Broker.CreateDbContext())
        {
            var account = await db.TeslaAccounts.SingleAsync(Ct);
            var now = Time.GetUtcNow();
            var month = new DateOnly(now.Year, now.Month, 1);
            await db.ApiUsage.Where(u => u.AccountId == account.Id).ExecuteDeleteAsync(Ct);
            db.ApiUsage.Add(new ApiUsage { AccountId = account.Id, TenantId = TenantId, Device = "car", Category = "data", Billable = true, Month = month, Calls = 300, CostUsd = 0.6m });
            db.ApiUsage.Add(new ApiUsage { AccountId = account.Id, TenantId = TenantId, Device = "car", Category = "streaming", Billable = true, Month = month, Calls = 150_000, CostUsd = 1m });
            await db.SaveChangesAsync(Ct);
            await db.Tenants.Where(t => t.Id == TenantId).ExecuteUpdateAsync(s => s.SetProperty(t => t.MonthlyBudgetUsd, 1.5m)
                .SetProperty(t => t.BudgetState, "stopped").SetProperty(t => t.BudgetSpentUsd, 1.6m).SetProperty(t => t.BudgetProjectedUsd, 9m)
                .SetProperty(t => t.BudgetStateSince, new DateTimeOffset(2026, 12, 3, 8, 15, 0, TimeSpan.Zero)), Ct);
            var page = await PageAsync(op);
            Assert.Contains("Spent $1.60 so far, on course for $9.00", page);
            Assert.Contains("No billed call has been made since 2026-12-03 08:15 UTC", page);

            var usage = await op.Browser.GetStringAsync($"/console/tenants/household/accounts/{account.Id}", Ct);
            Assert.Contains("300 calls since", usage);
            Assert.Contains("(data 300)", usage);   // the signals are not a category of calls
            Assert.Contains("(data 300) and 150,000 streamed signals, about <strong>$1.60</strong>.", usage);   // no stray space before the comma
        }
    }

    private async Task<string> PageAsync(ConsolePerson person) => await person.Browser.GetStringAsync("/console/tenants/household", Ct);

    private static void AssertRedirect(HttpResponseMessage response) =>
        Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"{(int)response.StatusCode}: {response.Content.ReadAsStringAsync().Result}");
}
