using System.Diagnostics;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// The Debian <c>prometheus</c> package's binaries (<c>prometheus</c>, <c>promtool</c>). A missing
/// binary fails the test with the way to install it: these tests are the proof that a real
/// Prometheus accepts the exposition, so they must never pass by being skipped.
/// </summary>
public static class PrometheusTools
{
    public static string Locate(string name)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/bin")
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
        Assert.True(found is not null,
            $"'{name}' is not installed. `./broker.sh test` installs it (Debian package prometheus: " +
            "apt-get install --no-install-recommends prometheus); these tests never skip.");
        return found!;
    }

    /// <summary>Runs <c>promtool check metrics</c> with the exposition on stdin; returns its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> CheckMetricsAsync(string exposition, CancellationToken ct)
    {
        var start = new ProcessStartInfo(Locate("promtool"))
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.ArgumentList.Add("check");
        start.ArgumentList.Add("metrics");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.StandardInput.WriteAsync(exposition.AsMemory(), ct);
        process.StandardInput.Close();
        await process.WaitForExitAsync(ct);
        return (process.ExitCode, await stdout + await stderr);
    }
}
