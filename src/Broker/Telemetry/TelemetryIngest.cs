using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Broker.Telemetry;

/// <summary>
/// Subscribes to what fleet-telemetry publishes (<c>&lt;base&gt;/&lt;VIN&gt;/v/&lt;Field&gt;</c> and <c>…/connectivity</c>) with an MQTT 5
/// shared subscription, so each message is handled by one replica, and a persistent session, so QoS 1 messages wait in the
/// MQTT broker while a replica is away. A message is acknowledged only after its batch is in Postgres: a replica that dies
/// mid-batch leaves the MQTT broker to deliver the batch again (to this replica on its return, or to another of the group).
/// Backpressure is the bounded inbox: while Postgres is slow the MQTT client stops reading and the MQTT broker holds the rest.
/// </summary>
public sealed class TelemetryIngest(IServiceScopeFactory scopes, IOptions<TelemetryOptions> options, ILogger<TelemetryIngest> logger) : BackgroundService
{
    /// <summary>Messages handed to the writer at most at once (one transaction).</summary>
    public const int BatchSize = 2000;
    /// <summary>Unacknowledged messages the MQTT broker may send: a batch being written and the next one filling (within the inbox).</summary>
    public const ushort ReceiveMaximum = BatchSize * 2;
    /// <summary>fleet-telemetry publishes one small JSON value per message; anything larger is dropped unread.</summary>
    public const int MaxPayloadBytes = 64 * 1024;

    /// <summary>The largest MQTT packet either side takes (mosquitto's <c>max_packet_size</c> in deploy/, the tests and the demo).</summary>
    public const int MaxPacketBytes = 1024 * 1024;

    private readonly Channel<TelemetryMessage> _inbox = Channel.CreateBounded<TelemetryMessage>(
        new BoundedChannelOptions(BatchSize * 4) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private long _stored;

    /// <summary>Messages this replica stored (and acknowledged) since it started.</summary>
    public long Stored => Interlocked.Read(ref _stored);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var writer = Task.Run(() => DrainAsync(stoppingToken), stoppingToken);
        var o = options.Value.Mqtt;
        var attempt = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            using var client = new MqttClientFactory().CreateMqttClient();
            var disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            client.DisconnectedAsync += _ => { disconnected.TrySetResult(); return Task.CompletedTask; };
            client.ApplicationMessageReceivedAsync += async e =>
            {
                if (e.ApplicationMessage.Payload.Length > MaxPayloadBytes)
                {
                    TelemetryMetrics.Messages.WithLabels("too_large").Inc();
                    return; // acknowledged as handled: dropped
                }
                e.AutoAcknowledge = false;
                var payload = e.ApplicationMessage.Payload.ToArray();
                await _inbox.Writer.WriteAsync(new TelemetryMessage(e.ApplicationMessage.Topic, payload, e.AcknowledgeAsync), stoppingToken);
            };
            try
            {
                var builder = new MqttClientOptionsBuilder()
                    .WithTcpServer(o.Host, o.Port)
                    .WithClientId(o.EffectiveClientId)
                    .WithProtocolVersion(MqttProtocolVersion.V500)
                    .WithCleanStart(false)
                    .WithSessionExpiryInterval((uint)o.SessionExpirySeconds)
                    .WithKeepAlivePeriod(TimeSpan.FromSeconds(30))
                    .WithTimeout(TimeSpan.FromSeconds(10))
                    // MQTT 5: the MQTT broker silently drops what is larger for this client. Well above MaxPayloadBytes, so a message
                    // too large to store still arrives and is counted (too_large); the MQTT brokers' own max_packet_size refuses
                    // the same size from publishers, who then see it.
                    .WithMaximumPacketSize(MaxPacketBytes)
                    // MQTT 5 Receive Maximum: how many messages may await their acknowledgement (sent after they are stored). Left
                    // out, mosquitto allows its max_inflight_messages, 20: every batch would be 20 messages, one transaction each.
                    .WithReceiveMaximum(ReceiveMaximum);
                if (o.Username is { Length: > 0 })
                {
                    builder.WithCredentials(o.Username, o.Password);
                }
                if (o.UseTls)
                {
                    builder.WithTlsOptions(t => t.UseTls());
                }
                var connected = await client.ConnectAsync(builder.Build(), stoppingToken);
                // A session the MQTT broker kept already holds the subscriptions (and queued messages); subscribing again is harmless.
                var share = $"$share/{o.ShareGroup}/{o.TopicBase.TrimEnd('/')}";
                var subscribe = new MqttClientFactory().CreateSubscribeOptionsBuilder()
                    .WithTopicFilter(f => f.WithTopic($"{share}/+/v/+").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
                    .WithTopicFilter(f => f.WithTopic($"{share}/+/connectivity").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
                    .Build();
                var granted = await client.SubscribeAsync(subscribe, stoppingToken);
                var refused = granted.Items.Where(i => i.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2).ToList();
                if (refused.Count > 0)
                {
                    throw new InvalidOperationException("the MQTT broker refused the subscription: "
                        + string.Join(", ", refused.Select(r => $"{r.TopicFilter.Topic} ({r.ResultCode})")));
                }
                TelemetryMetrics.MqttConnected.Set(1);
                logger.LogInformation("Streaming: subscribed to {Topics} on {Host}:{Port} as {ClientId} (session {Session})",
                    share + "/+/{v/+,connectivity}", o.Host, o.Port, o.EffectiveClientId, connected.IsSessionPresent ? "resumed" : "new");
                attempt = 0;
                await disconnected.Task.WaitAsync(stoppingToken);
                logger.LogWarning("Streaming: the MQTT broker at {Host}:{Port} went away; reconnecting", o.Host, o.Port);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                logger.LogWarning("Streaming: cannot use the MQTT broker at {Host}:{Port} ({Error}); retrying", o.Host, o.Port, ex.Message);
            }
            finally
            {
                TelemetryMetrics.MqttConnected.Set(0);
                if (client.IsConnected)
                {
                    await client.DisconnectAsync(new MqttClientDisconnectOptions(), CancellationToken.None);
                }
            }
            TelemetryMetrics.Reconnects.Inc();
            // 1, 2, 4 … 30 s: the MQTT broker restarting is routine.
            var delay = TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Min(attempt++, 5))));
            try { await Task.Delay(delay, stoppingToken); } catch (OperationCanceledException) { break; }
        }
        _inbox.Writer.TryComplete();
        await writer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>Batches from the inbox into Postgres; a batch that cannot be written is retried, never acknowledged unwritten.</summary>
    private async Task DrainAsync(CancellationToken ct)
    {
        var batch = new List<TelemetryMessage>(BatchSize);
        while (await _inbox.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
        {
            while (batch.Count < BatchSize && _inbox.Reader.TryRead(out var m))
            {
                batch.Add(m);
            }
            if (!await StoreAsync(batch, ct))
            {
                return; // stopping: unacknowledged, the MQTT broker delivers them again
            }
            foreach (var m in batch)
            {
                try
                {
                    await m.AcknowledgeAsync(ct);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The connection it came on is gone: the MQTT broker delivers it again, and applying it twice changes nothing.
                }
            }
            batch.Clear();
        }
    }

    /// <summary>
    /// Stores a batch, retrying while Postgres is away. A batch that keeps failing although Postgres answers is written one
    /// message at a time, and a message that fails on its own is dropped (counted as <c>poison</c>): one bad message must not
    /// hold up the stream, nor come back after every restart from the MQTT broker's session.
    /// </summary>
    private async Task<bool> StoreAsync(List<TelemetryMessage> batch, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await WriteAsync(batch, ct);
                return true;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return false;
            }
            catch (Exception ex)
            {
                TelemetryMetrics.WriteFailures.Inc();
                logger.LogWarning("Streaming: could not store {Count} messages ({Error}); retrying", batch.Count, ex.Message);
                if (attempt >= 2 && batch.Count > 1 && await DatabaseAnswersAsync(ct))
                {
                    break;
                }
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Min(attempt, 5)))), ct);
            }
        }
        foreach (var m in batch)
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await WriteAsync([m], ct);
                    break;
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    return false;
                }
                catch (Exception ex)
                {
                    if (attempt >= 1 && await DatabaseAnswersAsync(ct))
                    {
                        TelemetryMetrics.Messages.WithLabels("poison").Inc();
                        logger.LogWarning("Streaming: dropped a message on {Topic} that cannot be stored ({Error})", Hosting.TextInput.Clean(m.Topic), ex.Message);
                        break;
                    }
                    await Task.Delay(TimeSpan.FromSeconds(2), ct);
                }
            }
        }
        return true;
    }

    private async Task WriteAsync(IReadOnlyList<TelemetryMessage> messages, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<TelemetryWriter>().WriteAsync(messages, ct);
        Interlocked.Add(ref _stored, messages.Count);
    }

    private async Task<bool> DatabaseAnswersAsync(CancellationToken ct)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<Data.BrokerDbContext>().Database.CanConnectAsync(ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>One MQTT message as received: acknowledged once stored (or dropped as malformed).</summary>
public sealed record TelemetryMessage(string Topic, byte[] Payload, Func<CancellationToken, Task> AcknowledgeAsync);
