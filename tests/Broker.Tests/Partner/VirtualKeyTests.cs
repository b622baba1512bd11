using System.Net.Http.Json;
using Broker.Partner;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Broker.Tests.Partner;

/// <summary>Whether the operator's virtual key is on each car, learnt from fleet_status during polls.</summary>
public sealed class VirtualKeyTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string Domain = "broker.test";
    private const string MidnightRunner = "5YJ3E1EA7PF381204";
    private const string Sentinel = "7SAYGDEE5PA114587";

    protected override Dictionary<string, string?> BrokerSettings => new()
    {
        ["Partner:Domain"] = Domain,
        ["Partner:PairingBaseUrl"] = SimulatorHost.AuthBase,
    };

    [Fact]
    public async Task PollAfterConnectRecordsWhichCarsHoldTheKeyRecheckingUnpairedCarsSoonAndPairedOnesDaily()
    {
        await RegisterPartnerAsync();
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PairAsync(MidnightRunner, paired: true);
        await ResetSimCallsAsync();

        await PollAccountsAsync();

        Assert.Equal([(MidnightRunner, true), (Sentinel, false)], await KeysAsync());
        // One VIN per fleet_status call, as Tesla recommends (TESLA.md §4.6): the simulator tags such a call with its car.
        var calls = await SimCallsAsync();
        Assert.Equal(1, calls.Where(c => c.Category == "meta" && c.Device == MidnightRunner).Sum(c => c.Count));
        Assert.Equal(1, calls.Where(c => c.Category == "meta" && c.Device == Sentinel).Sum(c => c.Count));
        var checkedAt = Time.GetUtcNow();
        await using (var db = Broker.CreateDbContext())
        {
            Assert.All(await db.Vehicles.ToListAsync(Ct), v => Assert.Equal(checkedAt, v.KeyCheckedAt!.Value, TimeSpan.FromMilliseconds(1)));
        }

        // While a car lacks the key the account is asked every 15 minutes (fleet_status is not billed), so a pairing shows soon;
        // not on every poll.
        await PairAsync(Sentinel, paired: true);
        Time.Advance(TimeSpan.FromMinutes(5));
        await PollAccountsAsync();
        Assert.Equal([(MidnightRunner, true), (Sentinel, false)], await KeysAsync());
        Time.Advance(TimeSpan.FromMinutes(11));
        await PollAccountsAsync();
        Assert.Equal([(MidnightRunner, true), (Sentinel, true)], await KeysAsync());

        // Every car paired: the owner removing a key shows at the next daily check, not within the hour.
        await PairAsync(MidnightRunner, paired: false);
        Time.Advance(TimeSpan.FromHours(1));
        await PollAccountsAsync();
        Assert.Equal([(MidnightRunner, true), (Sentinel, true)], await KeysAsync());

        Time.Advance(TimeSpan.FromHours(24));
        await PollAccountsAsync();
        Assert.Equal([(MidnightRunner, false), (Sentinel, true)], await KeysAsync());
    }

    [Fact]
    public async Task AFailingFleetStatusNeverFailsThePoll()
    {
        await RegisterPartnerAsync();
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await AddSimFaultAsync(new { path = "/api/1/vehicles/fleet_status", status = 500, count = 10 });

        await PollAccountsAsync();

        Assert.Equal([(MidnightRunner, (bool?)null), (Sentinel, null)], await KeysAsync());
        await using var db = Broker.CreateDbContext();
        Assert.Contains(await db.VehicleReadings.ToListAsync(Ct), r => r.DataAt is not null);
        Assert.Contains(Broker.Logs.Lines, l => l.StartsWith("Warning") && l.Contains("fleet_status"));
    }

    [Fact]
    public async Task WithoutARegistrationNoCarIsChecked()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");

        await PollAccountsAsync();

        // The simulator would have answered fleet_status; unchecked cars prove it was not asked.
        await using var db = Broker.CreateDbContext();
        Assert.All(await db.Vehicles.ToListAsync(Ct), v => Assert.Equal((null, null), (v.KeyPaired, v.KeyCheckedAt)));
    }

    [Fact]
    public async Task PairingLinkNamesTheDomainAndTheCar()
    {
        var options = Broker.Services.GetRequiredService<IOptions<PartnerOptions>>().Value;
        Assert.Equal($"{SimulatorHost.AuthBase}/_ak/{Domain}?vin={MidnightRunner}", options.PairingUrl(MidnightRunner));

        // The simulator serves the pairing page there.
        using var control = Simulator.CreateControlClient();
        var page = await control.GetAsync($"/_ak/{Domain}?vin={MidnightRunner}", Ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, page.StatusCode);
    }

    private Task PairAsync(string vin, bool paired) => PairVirtualKeyAsync(vin, Domain, paired);

    private async Task<List<(string, bool?)>> KeysAsync()
    {
        await using var db = Broker.CreateDbContext();
        return (await db.Vehicles.OrderBy(v => v.Vin).Select(v => new { v.Vin, v.KeyPaired }).ToListAsync(Ct))
            .Select(v => (v.Vin, v.KeyPaired)).ToList();
    }
}
