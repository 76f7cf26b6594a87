//! RabbitMQ destinations: a persistent, mandatory publish on a channel with publisher confirms;
//! the broker's confirm delivers the event, a returned (unroutable) message fails it.

use std::time::Duration;

use hookgate_events::Template;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};

use super::{Failure, Message, Output, SendFuture};

/// AMQP delivery mode 2: the broker writes the message to disk in durable queues.
const PERSISTENT: u8 = 2;

pub(super) struct AmqpOutput {
    // Kept so the connection lives as long as its channel.
    _connection: Connection,
    channel: Channel,
    exchange: String,
    routing_key: Template,
    timeout: Duration,
}

impl AmqpOutput {
    pub(super) async fn connect(
        uri: &str,
        exchange: String,
        routing_key: Template,
        timeout: Duration,
    ) -> Result<Self, Failure> {
        let open = async {
            let connection = Connection::connect(uri, ConnectionProperties::default()).await?;
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            Ok::<_, lapin::Error>((connection, channel))
        };
        let (connection, channel) = tokio::time::timeout(timeout, open)
            .await
            .map_err(|_| Failure::new("could not connect to RabbitMQ in time"))?
            .map_err(|err| {
                Failure::new(format!(
                    "could not connect to RabbitMQ: {}",
                    super::chain(&err)
                ))
            })?;
        Ok(Self {
            _connection: connection,
            channel,
            exchange,
            routing_key,
            timeout,
        })
    }

    async fn publish(&self, message: &Message<'_>) -> Result<Option<u16>, Failure> {
        let routing_key = self.routing_key.render(message.tenant, message.event_type);
        let mut headers = FieldTable::default();
        for (name, value) in [
            ("svix-id", message.svix_id),
            ("type", message.event_type),
            ("tenant", message.tenant),
        ] {
            headers.insert(name.into(), AMQPValue::LongString(LongString::from(value)));
        }
        let properties = BasicProperties::default()
            .with_message_id(message.svix_id.into())
            .with_type(message.event_type.into())
            .with_timestamp(u64::try_from(message.received_at).unwrap_or_default())
            .with_content_type("application/json".into())
            .with_app_id("hookgate".into())
            .with_delivery_mode(PERSISTENT)
            .with_headers(headers);
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let confirmed = async {
            self.channel
                .basic_publish(
                    self.exchange.as_str().into(),
                    routing_key.as_str().into(),
                    options,
                    message.body,
                    properties,
                )
                .await?
                .await
        };
        let confirmation = match tokio::time::timeout(self.timeout, confirmed).await {
            Err(_) => {
                return Err(Failure::broken(
                    "RabbitMQ did not confirm the publish in time",
                ));
            }
            // A closed channel (an exchange that does not exist closes it) or connection: the
            // next attempt opens a new one.
            Ok(Err(err)) => {
                return Err(Failure::broken(format!(
                    "RabbitMQ refused the publish: {}",
                    super::chain(&err)
                )));
            }
            Ok(Ok(confirmation)) => confirmation,
        };
        match confirmation {
            Confirmation::Ack(None) => Ok(None),
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                Err(Failure::new(format!(
                    "RabbitMQ returned the message: no queue is bound to exchange `{}` for routing key `{routing_key}` ({} {})",
                    self.exchange, returned.reply_code, returned.reply_text
                )))
            }
            Confirmation::Nack(None) => Err(Failure::new("RabbitMQ did not accept the message")),
            Confirmation::NotRequested => Err(Failure::broken(
                "the channel has no publisher confirms; reconnecting",
            )),
        }
    }
}

impl Output for AmqpOutput {
    fn send<'a>(&'a self, message: &'a Message<'a>) -> SendFuture<'a> {
        Box::pin(self.publish(message))
    }
}
