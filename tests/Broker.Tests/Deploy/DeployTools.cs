using System.Diagnostics;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.Deploy;

/// <summary>
/// The repository's deployment files and the command-line tools that check them offline
/// (docker-compose v1.29 and promtool from Debian). A missing tool fails the test with the way to
/// install it: these tests are CI's only check of the files, so they never pass by being skipped.
/// </summary>
internal static class DeployTools
{
    public static readonly string Root = PostgresServer.RepoRoot();

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    public static string Locate(string name, string package)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/bin")
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
        Assert.True(found is not null,
            $"'{name}' is not installed. `./broker.sh test` installs it (Debian package {package}: " +
            $"apt-get install --no-install-recommends {package}); these tests never skip.");
        return found!;
    }

    /// <summary>Runs a tool in the repository root; returns its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string tool, IEnumerable<string> args, IEnumerable<string>? unset = null)
    {
        var start = new ProcessStartInfo(tool) { WorkingDirectory = Root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // The caller's shell must not fill in what the test means to leave out.
        foreach (var name in unset ?? [])
        {
            start.Environment.Remove(name);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, await stdout + await stderr);
    }
}
