using System.Diagnostics;
using Broker.Hosting;
using Broker.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Broker.Tests.Hosting;

/// <summary>
/// <c>Section:Key_FILE</c> settings (compose secrets): real files on disk, read the way the broker reads its
/// environment, and a real <c>Broker.dll</c> for the start-up failure an operator sees.
/// </summary>
public sealed class SecretFilesTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("broker-secret-files-");

    [Fact]
    public void ASettingEndingInFileIsFilledFromThatFileWithoutTheTrailingNewline()
    {
        var secret = Throwaway();
        var password = Throwaway();
        var configuration = new ConfigurationManager();
        configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Tesla:ClientSecret"] = "from-the-environment",
            ["Tesla:ClientSecret_FILE"] = Write("tesla_client_secret", secret + "\n"),
            ["Database:Password_FILE"] = Write("postgres_password", password + "  \r\n"),
            ["Console:Oidc:ClientSecret_FILE"] = "", // empty: as if unset
            ["SSL_CERT_FILE"] = Path.Combine(_dir.FullName, "not-there.pem"), // other software's, outside any section
        });

        configuration.AddSecretFiles();

        Assert.Equal(secret, configuration["Tesla:ClientSecret"]); // the file wins over the plain setting
        Assert.Equal(password, configuration["Database:Password"]);
        Assert.Null(configuration["Console:Oidc:ClientSecret"]);
        Assert.Null(configuration["SSL_CERT"]);
    }

    [Fact]
    public async Task AMissingSecretFileStopsStartUpNamingTheSettingAndPathButNoContent()
    {
        var secret = Throwaway();
        var missing = Path.Combine(_dir.FullName, "console_oidc_client_secret");

        var (exitCode, output) = await RunBrokerAsync(new()
        {
            ["Tesla__ClientSecret_FILE"] = Write("tesla_client_secret", secret + "\n"),
            ["Console__Oidc__ClientSecret_FILE"] = missing,
        });

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Console:Oidc:ClientSecret_FILE", output);
        Assert.Contains(missing, output);
        Assert.DoesNotContain("Tesla:ClientSecret_FILE", output); // that one was readable
        Assert.DoesNotContain(secret, output);
    }

    public void Dispose() => _dir.Delete(recursive: true);

    private static string Throwaway() => $"throwaway-{Guid.NewGuid():N}";

    private string Write(string name, string content)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, content);
        return path;
    }

    /// <summary>Broker.dll as a container starts it: settings in the environment only. It must exit by itself.</summary>
    private static async Task<(int ExitCode, string Output)> RunBrokerAsync(Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Broker.dll"));
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["ConnectionStrings__Broker"] = $"Host=127.0.0.1;Port={PostgresServer.FreePort()};Database=broker;Timeout=2";
        start.Environment["Tesla__ClientId"] = "secret-files-test";
        start.Environment["Jobs__Enabled"] = "false";
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{PostgresServer.FreePort()}";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"Broker.dll kept running with a missing secret file:\n{await stdout}\n{await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
