using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Broker.Tests.Infrastructure;

/// <summary>One response the broker served: what was asked, the status, the headers and the body as text.</summary>
public sealed record RecordedResponse(string Method, string PathAndQuery, int Status, string? ContentType, string Headers, string Body);

/// <summary>
/// Keeps every response the broker serves while <see cref="Enabled"/> (pages, problems, API answers, /metrics),
/// whoever asked, so a test can search everything a browser or client was ever shown. Off, it costs one check per request.
/// </summary>
public sealed class ResponseRecorder
{
    private volatile bool _enabled;

    public bool Enabled { get => _enabled; set => _enabled = value; }

    public ConcurrentQueue<RecordedResponse> Responses { get; } = new();

    internal sealed class Filter(ResponseRecorder recorder) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (http, nextMiddleware) =>
            {
                if (!recorder.Enabled)
                {
                    await nextMiddleware(http);
                    return;
                }
                var original = http.Response.Body;
                using var buffer = new MemoryStream();
                http.Response.Body = buffer;
                try
                {
                    await nextMiddleware(http);
                }
                finally
                {
                    http.Response.Body = original;
                    var headers = string.Join('\n', http.Response.Headers.Select(h => $"{h.Key}: {h.Value}"));
                    recorder.Responses.Enqueue(new RecordedResponse(http.Request.Method, http.Request.Path + http.Request.QueryString,
                        http.Response.StatusCode, http.Response.ContentType, headers, System.Text.Encoding.UTF8.GetString(buffer.ToArray())));
                    buffer.Position = 0;
                    await buffer.CopyToAsync(original);
                }
            });
            next(app);
        };
    }
}
