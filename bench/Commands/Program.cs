using System.Globalization;

namespace Commands;

/// <summary>
/// dotnet run -c Release --project bench/Commands [-- --part micro|e2e|all --seconds 3 --rounds 3 --cars 60 --per-car 25 --rounds-e2e 2 --parallel 8]
/// Signed commands (Vehicle Command Protocol, docs/commands-protocol.md). "micro": the protocol's cost on one thread
/// (sign, open, handshake, sessions of 1/10/100 commands). "e2e": the broker's command API sending signed commands to the
/// simulator playing the cars, on a real PostgreSQL. The load average is printed before and after each part.
/// </summary>
internal static class CommandsProgram
{
    public static async Task<int> Main(string[] args)
    {
        var part = Arg(args, "--part", "all");
        Console.WriteLine($"Signed commands bench, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version}");
        if (part is "micro" or "all")
        {
            var before = LoadAverage();
            var micro = new Micro(double.Parse(Arg(args, "--seconds", "3"), CultureInfo.InvariantCulture), int.Parse(Arg(args, "--rounds", "3"), CultureInfo.InvariantCulture));
            micro.Run();
            Console.WriteLine();
            Console.WriteLine($"In process, one thread (load average before: {before}; after: {LoadAverage()})");
            Console.WriteLine();
            Console.WriteLine(micro.Table());
        }
        if (part is "e2e" or "all")
        {
            int N(string name, string fallback) => int.Parse(Arg(args, name, fallback), CultureInfo.InvariantCulture);
            var perCar = N("--per-car", "25");
            if (perCar > 29)
            {
                Console.Error.WriteLine("--per-car is at most 29: Tesla's 30 a minute per car count the first round's handshake too.");
                return 2;
            }
            var before = LoadAverage();
            var e2e = await new EndToEnd(N("--cars", "60"), perCar, N("--rounds-e2e", "2"), N("--parallel", "8")).RunAsync();
            Console.WriteLine();
            Console.WriteLine($"(load average before the end-to-end part: {before}; after: {LoadAverage()})");
            Console.WriteLine();
            Console.WriteLine(e2e);
        }
        return 0;
    }

    /// <summary>/proc/loadavg's first three fields.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    public static string Arg(string[] args, string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}
