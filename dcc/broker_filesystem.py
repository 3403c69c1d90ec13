"""kombu's filesystem transport (the broker ``make run`` ships), with whole
messages.

kombu writes a message by creating its file and then writing it; a worker
polling the same folder can take the file in between, read nothing and stop
with "Unrecoverable error: JSONDecodeError" (seen with the web process and a
worker busy at once). Here a message is written under a name the reader
skips (``….msg.part``) and renamed into place, which is atomic on one file
system, so a reader sees a whole message or none. ``dcc.celery`` registers
this class for ``filesystem://`` URLs.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

PARTIAL = ".part"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
