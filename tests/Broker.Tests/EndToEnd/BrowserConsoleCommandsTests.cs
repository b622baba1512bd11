using Broker.People;
using Broker.Tenants;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Broker.Tests.EndToEnd;

/// <summary>
/// A tenant member sends charging commands from the account page in a real Chromium, against the simulator's car, and sees
/// the car change at the broker's next poll (the scheduler runs: an ok command asks for that poll). The Midnight Runner takes
/// REST commands here, as a car whose fleet_status says no protocol is required: the stack has no partner key to sign with.
/// The broker asks owners for vehicle_charging_cmds too, and Alice grants every scope.
/// </summary>
public sealed class BrowserConsoleCommandsTests(PostgresServer postgres, BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private const string Vin = "5YJ3E1EA7PF381204";   // Midnight Runner: awake (driving), charge limit 80 %
    private const string Member = "alice-admin@example.com";
    private ConsoleStack _stack = null!;
    private string _accountUrl = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _stack = await ConsoleStack.StartAsync(postgres, settings: new()
        {
            ["Jobs:Enabled"] = "true", ["Jobs:IdleWaitSeconds"] = "1", ["Jobs:ClusterCheckinSeconds"] = "2",
        });
        await using (var scope = _stack.Broker.Services.CreateAsyncScope())
        {
            var tenant = await scope.ServiceProvider.GetRequiredService<global::Broker.Data.BrokerDbContext>().Tenants.SingleAsync(t => t.Slug == "household", Ct);
            await scope.ServiceProvider.GetRequiredService<TenantProvisioning>().InviteMemberAsync(tenant.Id, Member, TenantRole.Member, Ct);
        }
        await using var owner = await browser.NewContextAsync();
        await _stack.ConnectAliceAsync(await owner.NewPageAsync(), _stack.ConnectUrl);
        await using var db = _stack.Broker.CreateDbContext();
        var account = await db.TeslaAccounts.SingleAsync(Ct);
        _accountUrl = $"{_stack.BrokerUrl}/console/tenants/household/accounts/{account.Id}";
        await WaitForAsync(async () => await db.VehicleReadings.AsNoTracking().AnyAsync(r => r.DataAt != null && r.ChargeLimitSoc != null, Ct), "the first poll");
        Assert.Equal(2, await db.Vehicles.Where(v => v.AccountId == account.Id).ExecuteUpdateAsync(s => s.SetProperty(v => v.CommandProtocolRequired, false), Ct));
    }

    [Fact]
    public async Task AMemberSetsTheChargeLimitAndSeesItAfterTheNextPollAndAResendSendsNothing()
    {
        var (context, page) = await SignInAsync();
        await using var _ = context;
        var car = page.Locator($"#vehicle-{Vin}");
        Assert.Contains("limit 80 %", await car.InnerTextAsync());
        Assert.Equal("80", await car.GetByLabel("Charge limit (%)").InputValueAsync());

        await car.GetByLabel("Charge limit (%)").FillAsync("85");
        await car.GetByRole(AriaRole.Button, new() { Name = "Set charge limit" }).ClickAsync();
        await page.WaitForURLAsync($"{_accountUrl}#charging-{Vin}");
        var outcome = page.Locator("#command-outcome");
        Assert.Contains("Charge limit set to 85 % (REST)", await outcome.InnerTextAsync());
        Assert.Equal("status", await outcome.GetAttributeAsync("role"));
        await PageChecks.AssertAccessibleAsync(page);

        await ReloadUntilAsync(page, async () => (await car.InnerTextAsync()).Contains("limit 85 %"), "the new limit after the next poll");
        Assert.Equal(0, await page.Locator("#command-outcome").CountAsync());   // shown once
        await using var db = _stack.Broker.CreateDbContext();
        var sent = await db.Commands.AsNoTracking().SingleAsync(Ct);
        Assert.Equal(("set_charge_limit", "ok", $"person:{Member}"), (sent.Name, sent.Outcome, sent.Actor));

        // The same form posted again (a browser's resend): the first command's answer, nothing sent to the car.
        await page.GotoAsync(_accountUrl);
        var form = car.Locator("form[action$='/commands/set_charge_limit']");
        await form.EvaluateAsync("(f, key) => f.querySelector('[name=idempotency_key]').value = key", sent.IdempotencyKey);
        await form.GetByLabel("Charge limit (%)").FillAsync("85");
        await form.EvaluateAsync("f => f.submit()");
        await page.WaitForURLAsync($"{_accountUrl}#charging-{Vin}");
        Assert.Contains("Already sent from this form: Charge limit set to 85 %", await page.Locator("#command-outcome").InnerTextAsync());
        Assert.Equal(1, await db.Commands.CountAsync(Ct));
    }

    [Fact]
    public async Task AMemberSetsChargingAmpsAndSeesThemAfterTheNextPoll()
    {
        var (context, page) = await SignInAsync();
        await using var _ = context;
        var car = page.Locator($"#vehicle-{Vin}");
        var amps = car.GetByLabel("Charging amps (A)");
        var (current, max) = (int.Parse(await amps.InputValueAsync()), int.Parse((await amps.GetAttributeAsync("max"))!));
        Assert.Equal($"{current} A of {max} A max", await page.Locator($"#amps-{Vin}").InnerTextAsync());
        var wanted = current == 8 ? 10 : 8;

        await amps.FillAsync(wanted.ToString());
        await car.GetByRole(AriaRole.Button, new() { Name = "Set charging amps" }).ClickAsync();
        await page.WaitForURLAsync($"{_accountUrl}#charging-{Vin}");
        Assert.Contains($"Charging amps set to {wanted} A", await page.Locator("#command-outcome").InnerTextAsync());

        await ReloadUntilAsync(page, async () => await page.Locator($"#amps-{Vin}").InnerTextAsync() == $"{wanted} A of {max} A max",
            "the new charging current after the next poll");
        Assert.Equal(wanted.ToString(), await car.GetByLabel("Charging amps (A)").InputValueAsync());
    }

    [Fact]
    public async Task BadAmpsComeBackAsTheFieldsMessageAndNothingIsSent()
    {
        var (context, page) = await SignInAsync();
        await using var _ = context;
        var form = page.Locator($"#vehicle-{Vin} form[action$='/commands/set_charging_amps']");
        var max = await form.GetByLabel("Charging amps (A)").GetAttributeAsync("max");

        // Past the browser's own min/max check, as a hand-made post gets.
        foreach (var (value, message) in new[] { ("99", $"Charging amps: Must be between 1 and {max}"), ("ten", "Charging amps: Must be a whole number."), ("", "Charging amps: Required") })
        {
            await page.GotoAsync(_accountUrl);
            await form.EvaluateAsync("(f, v) => { const i = f.querySelector('[name=charging_amps]'); i.type = 'text'; i.value = v; f.submit(); }", value);
            await page.WaitForURLAsync($"{_accountUrl}#charging-{Vin}");
            var outcome = page.Locator("#command-outcome");
            Assert.Equal("alert", await outcome.GetAttributeAsync("role"));
            Assert.Contains(message, await outcome.InnerTextAsync());
            var field = form.GetByLabel("Charging amps (A)");
            Assert.Equal("true", await field.GetAttributeAsync("aria-invalid"));
            Assert.Equal("command-outcome", await field.GetAttributeAsync("aria-describedby"));
        }
        await PageChecks.AssertAccessibleAsync(page);

        // A post without the field, or without the form's idempotency key: a page that says so, never a 500.
        await page.GotoAsync(_accountUrl);
        await form.EvaluateAsync("f => { f.querySelector('[name=charging_amps]').remove(); f.submit(); }");
        await page.WaitForURLAsync($"{_accountUrl}#charging-{Vin}");
        Assert.Contains("Charging amps: Required", await page.Locator("#command-outcome").InnerTextAsync());
        await page.GotoAsync(_accountUrl);
        var noKey = await page.RunAndWaitForResponseAsync(() => form.EvaluateAsync("f => { f.querySelector('[name=idempotency_key]').remove(); f.submit(); }"),
            r => r.Url.EndsWith("/commands/set_charging_amps"));
        Assert.Equal(400, noKey.Status);
        Assert.Contains("no usable idempotency key", await page.Locator("main").InnerTextAsync());

        await using var db = _stack.Broker.CreateDbContext();
        Assert.Equal(0, await db.Commands.CountAsync(Ct));
    }

    [Fact]
    public async Task ACommandThePolicyDoesNotAllowIsShownDisabledWithWhyAndRefusedWhenPostedAnyway()
    {
        await using (var db = _stack.Broker.CreateDbContext())
        {
            string[] allowed = ["charge_start", "charge_stop", "set_charging_amps"];
            await db.Tenants.ExecuteUpdateAsync(s => s.SetProperty(t => t.AllowedCommands, allowed), Ct);
        }
        var (context, page) = await SignInAsync();
        await using var _ = context;
        var car = page.Locator($"#vehicle-{Vin}");
        var button = car.GetByRole(AriaRole.Button, new() { Name = "Set charge limit" });
        Assert.True(await button.IsDisabledAsync());
        Assert.True(await car.GetByLabel("Charge limit (%)").IsDisabledAsync());
        Assert.True(await car.GetByRole(AriaRole.Button, new() { Name = "Set charging amps" }).IsEnabledAsync());
        var note = page.Locator($"#{await button.GetAttributeAsync("aria-describedby")}");
        Assert.Contains("Not allowed by the tenant's policy: set the charge limit", await note.InnerTextAsync());
        await PageChecks.AssertAccessibleAsync(page);

        await car.Locator("form[action$='/commands/set_charge_limit']").EvaluateAsync("f => { f.querySelectorAll('[disabled]').forEach(e => e.disabled = false); f.submit(); }");
        await page.WaitForURLAsync($"{_accountUrl}#charging-{Vin}");
        Assert.Contains("policy does not allow set_charge_limit", await page.Locator("#command-outcome").InnerTextAsync());
        await using var check = _stack.Broker.CreateDbContext();
        Assert.Equal(0, await check.Commands.CountAsync(Ct));
        Assert.Equal(1, await check.AuditEvents.CountAsync(e => e.Action == "command.refused", Ct));
    }

    /// <summary>The member signs in and opens the demo account from the tenant page, as a person would.</summary>
    private async Task<(IBrowserContext, IPage)> SignInAsync()
    {
        var context = await browser.NewContextAsync(bypassCsp: true);   // axe is injected as a script
        var page = await context.NewPageAsync();
        await _stack.SignInAsync(page, Member, "alice-admin-demo");
        await page.GetByRole(AriaRole.Link, new() { Name = "The Household" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "alice@example.com" }).ClickAsync();
        await page.WaitForURLAsync(_accountUrl);
        return (context, page);
    }

    private static async Task ReloadUntilAsync(IPage page, Func<Task<bool>> done, string what)
    {
        await WaitForAsync(async () =>
        {
            await page.ReloadAsync();
            return await done();
        }, what);
    }

    private static async Task WaitForAsync(Func<Task<bool>> done, string what)
    {
        var until = DateTimeOffset.UtcNow.AddSeconds(60);
        while (!await done())
        {
            Assert.True(DateTimeOffset.UtcNow < until, $"Timed out waiting for {what}.");
            await Task.Delay(500, Ct);
        }
    }

    public ValueTask DisposeAsync() => _stack.DisposeAsync();
}
