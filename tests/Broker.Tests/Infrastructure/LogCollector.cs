using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Broker.Tests.Infrastructure;

/// <summary>Keeps every log line the broker writes (all levels), so tests can prove no secret leaks into logs.</summary>
public sealed class LogCollector : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Collector(this, categoryName);

    public void Dispose() { }

    public string All => string.Join('\n', Lines);

    private sealed class Collector(LogCollector owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
    }
}
