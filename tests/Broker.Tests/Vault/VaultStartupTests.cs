using System.Security.Cryptography;
using Broker.Tests.Infrastructure;
using Broker.Vault;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Broker.Tests.Vault;

/// <summary>Start-up checks. A real database is given so start-up does not wait on connection retries.</summary>
public sealed class VaultStartupTests(PostgresServer postgres)
{
    [Fact]
    public void BrokerRefusesToStartWithoutAKeyOutsideDevelopment()
    {
        using var app = new ConfiguredBroker(postgres, "Production", []);
        var ex = Assert.Throws<OptionsValidationException>(() => app.Services);
        Assert.Contains("No token encryption key is configured", ex.Message);
        Assert.Contains("./broker.sh new-key", ex.Message);
    }

    [Fact]
    public void BrokerRefusesAKeyThatIsNot32Bytes()
    {
        using var app = new ConfiguredBroker(postgres, "Production", new() { ["Vault:Keys:0:Id"] = "short", ["Vault:Keys:0:Key"] = Convert.ToBase64String(new byte[16]) });
        var ex = Assert.Throws<OptionsValidationException>(() => app.Services);
        Assert.Contains("not 32 bytes", ex.Message);
        Assert.DoesNotContain(Convert.ToBase64String(new byte[16]), ex.Message);
    }

    [Fact]
    public void BrokerReadsKeysFromAKeyFileAndTheLastOneEncrypts()
    {
        var file = Path.GetTempFileName();
        File.WriteAllLines(file, ["# rotated 2026-11", $"old={Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))}", $"new={Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))}"]);
        using var app = new ConfiguredBroker(postgres, "Production", new() { ["Vault:KeyFile"] = file });

        Assert.Equal("new", app.Services.GetRequiredService<TokenVault>().CurrentKeyId);
    }

    [Fact]
    public void DevelopmentStartsWithAnEphemeralKeyAndSaysSo()
    {
        using var app = new ConfiguredBroker(postgres, "Development", new() { ["Database:MigrateOnStart"] = "false" });
        Assert.Equal("ephemeral-dev", app.Services.GetRequiredService<TokenVault>().CurrentKeyId);
    }

    /// <summary>A broker with only the settings given (plus a database and Tesla client id), to test start-up checks.</summary>
    private sealed class ConfiguredBroker(PostgresServer postgres, string environment, Dictionary<string, string?> settings) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment(environment);
            builder.UseSetting("ConnectionStrings:Broker", postgres.ConnectionString("postgres"));
            builder.UseSetting("Tesla:ClientId", "client");
            builder.UseSetting("Jobs:Enabled", "false");
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
        }
    }
}
