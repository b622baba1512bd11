using System.Net;
using Broker.Data;
using Broker.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Broker.Tests.Data;

/// <summary>
/// The one connection string EF Core and Quartz share: Database:Password (a secret file in compose) becomes its
/// password, and GSS encryption is off unless asked for. The password is proven against a cluster that demands it.
/// </summary>
public sealed class BrokerConnectionStringTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void DatabasePasswordReplacesThePasswordOfTheConnectionString()
    {
        var withPassword = Configuration("Host=db;Username=broker;Password=old;Database=broker", password: "from-the-file");
        var without = Configuration("Host=db;Username=broker;Password=old;Database=broker", password: null);

        Assert.Equal("from-the-file", new NpgsqlConnectionStringBuilder(withPassword.GetBrokerConnectionString()).Password);
        Assert.Equal("old", new NpgsqlConnectionStringBuilder(without.GetBrokerConnectionString()).Password);
    }

    [Theory]
    [InlineData("Host=db;Database=broker", GssEncryptionMode.Disable)]
    [InlineData("Host=db;Database=broker;GSS Encryption Mode=Prefer", GssEncryptionMode.Prefer)]
    [InlineData("Host=db;Database=broker;GssEncryptionMode=Require", GssEncryptionMode.Require)]
    public void GssEncryptionIsOffUnlessTheConnectionStringSaysOtherwise(string connectionString, GssEncryptionMode expected)
    {
        var final = Configuration(connectionString, password: null).GetBrokerConnectionString();

        Assert.Equal(expected, new NpgsqlConnectionStringBuilder(final).GssEncryptionMode);
    }

    [Fact]
    public async Task APasswordFromAFileOpensADatabaseThatDemandsOneForEfCoreAndQuartz()
    {
        await using var cluster = await PrivatePostgres.StartAsync();
        var withoutPassword = await cluster.CreateDatabaseAsync();
        var password = $"throwaway-{Guid.NewGuid():N}";
        await DemandPasswordAsync(withoutPassword, password);
        var passwordFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(passwordFile, password + "\n", Ct);
        try
        {
            await Assert.ThrowsAsync<NpgsqlException>(async () =>
            {
                await using var refused = new NpgsqlConnection(withoutPassword);
                await refused.OpenAsync(Ct);
            });

            await using var simulator = new SimulatorHost();
            await using var broker = new BrokerApplication(withoutPassword, simulator, new()
            {
                ["Database:Password_FILE"] = passwordFile,
                ["Jobs:Enabled"] = "true",
            });
            Assert.Equal(HttpStatusCode.OK, (await broker.CreateClient().GetAsync("/readyz", Ct)).StatusCode); // EF Core

            var withPassword = new NpgsqlConnectionStringBuilder(withoutPassword) { Password = password }.ConnectionString;
            Assert.True(await QuartzCheckedInAsync(withPassword), "Quartz never checked in to qrtz_scheduler_state");
            Assert.DoesNotContain(password, broker.Logs.All);
            Assert.DoesNotMatch("(?i)gss|kerberos", broker.Logs.All);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    private static IConfiguration Configuration(string connectionString, string? password) =>
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Broker"] = connectionString,
            [DatabaseExtensions.PasswordKey] = password,
        }).Build();

    /// <summary>Sets the password and makes TCP logins need it (SCRAM); the trust of the test cluster is gone.</summary>
    private static async Task DemandPasswordAsync(string connectionString, string password)
    {
        await using (var admin = new NpgsqlConnection(connectionString))
        {
            await admin.OpenAsync(Ct);
            await using (var alter = new NpgsqlCommand($"ALTER ROLE postgres PASSWORD '{password}'", admin))
            {
                await alter.ExecuteNonQueryAsync(Ct);
            }
            await using var hba = new NpgsqlCommand("SHOW hba_file", admin);
            var file = (string)(await hba.ExecuteScalarAsync(Ct))!;
            await File.WriteAllTextAsync(file, "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n", Ct);
            await using var reload = new NpgsqlCommand("SELECT pg_reload_conf()", admin);
            await reload.ExecuteNonQueryAsync(Ct);
        }
        NpgsqlConnection.ClearAllPools(); // pooled connections logged in under trust
    }

    private static async Task<bool> QuartzCheckedInAsync(string connectionString)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(250, Ct))
        {
            await using var db = new NpgsqlConnection(connectionString);
            await db.OpenAsync(Ct);
            await using var count = new NpgsqlCommand("SELECT count(*) FROM qrtz_scheduler_state", db);
            if ((long)(await count.ExecuteScalarAsync(Ct))! > 0)
            {
                return true;
            }
        }
        return false;
    }
}
